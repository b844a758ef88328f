"""Distributed training: rank 0 writes, other ranks cost nothing, ``reduce=`` combines values.

Real process groups: 2 and 4 processes started with ``torch.multiprocessing.spawn`` join a
gloo group on 127.0.0.1 (a free port), on the CPU.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from eventfiles import accumulate

import vizlog
from vizlog import servers

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available():  # pragma: no cover - every torch build here has it
    pytest.skip("torch.distributed is not available", allow_module_level=True)

OPS = ("mean", "sum", "max", "min")
STEPS = 3
OFF_RANK_CALLS = 20_000


def _expected(op: str, world: int, step: int) -> float:
    values = [float(rank * 10 + step) for rank in range(world)]
    return {"mean": sum(values) / world, "sum": sum(values), "max": max(values),
            "min": min(values)}[op]


def _train(rank: int, world: int, port: int, root: str) -> None:
    """One rank of a training run; any failed assertion fails ``spawn`` in the parent."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE=str(world))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        log = vizlog.Logger("tensorboard", logdir=os.path.join(root, "run"))
        assert log.backends == (("tensorboard",) if rank == 0 else ())
        for step in range(STEPS):
            value = float(rank * 10 + step)
            for op in OPS:
                log.scalar(f"loss/{op}", value, step, reduce=op)
            log.scalar("tensor_mean", torch.tensor(value), step, reduce="mean")
            log.scalar("unreduced", value, step)
            log.histogram("weights", torch.randn(100), step)
        if rank != 0:
            started = time.thread_time()  # CPU time: other processes cannot inflate it
            for i in range(OFF_RANK_CALLS):
                log.scalar("cheap", 1.0, i)
            per_call = (time.thread_time() - started) / OFF_RANK_CALLS
            assert per_call < 20e-6, f"an off-rank call took {per_call * 1e6:.1f} us"
        log.close()
        with vizlog.Logger("tensorboard", logdir=os.path.join(root, "every"),
                           all_ranks=True) as every:
            assert every.logdir == os.path.join(root, "every", f"rank{rank}")
            every.scalar("rank", float(rank), 0)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _run(world: int, root: Path) -> None:
    import torch.multiprocessing as mp

    mp.spawn(_train, args=(world, servers.free_port(), str(root)), nprocs=world, join=True)


def _files(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


@pytest.mark.parametrize("world", [2, 4])
def test_rank_zero_writes_the_reduced_values(tmp_path, world):
    _run(world, tmp_path)

    run = tmp_path / "run"
    files = _files(run)
    assert len(files) == 1 and files[0].startswith("events.out.tfevents."), files
    acc = accumulate(run)
    for op in OPS:
        got = [(e.step, e.value) for e in acc.Scalars(f"loss/{op}")]
        assert got == [(s, pytest.approx(_expected(op, world, s))) for s in range(STEPS)], op
    assert [e.value for e in acc.Scalars("tensor_mean")] == pytest.approx(
        [_expected("mean", world, s) for s in range(STEPS)]
    )
    assert [e.value for e in acc.Scalars("unreduced")] == [0.0, 1.0, 2.0]  # rank 0's own
    assert len(acc.Histograms("weights")) == STEPS
    assert "cheap" not in acc.Tags()["scalars"]

    every = tmp_path / "every"
    assert sorted(p.name for p in every.iterdir()) == [f"rank{r}" for r in range(world)]
    for rank in range(world):
        assert [e.value for e in accumulate(every / f"rank{rank}").Scalars("rank")] == [rank]


def test_rank_variables_without_a_process_group(tmp_path, monkeypatch):
    """Launchers set RANK before the group exists; a Logger made then obeys it too."""
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with vizlog.Logger("tensorboard", logdir=tmp_path / "off") as log:
        assert log.backends == ()
        log.scalar("x", 1.0, 0, reduce="mean")  # no group: the value itself, not logged
        log.text("t", "nothing", 0)
    assert not (tmp_path / "off").exists()
    with vizlog.Logger("tensorboard", logdir=tmp_path / "all", all_ranks=True) as log:
        log.scalar("x", 1.0, 0)
    assert [e.value for e in accumulate(tmp_path / "all" / "rank1").Scalars("x")] == [1.0]
    monkeypatch.setenv("RANK", "0")
    with vizlog.Logger("tensorboard", logdir=tmp_path / "on") as log:
        log.scalar("x", 2.0, 0, reduce="sum")
    assert [e.value for e in accumulate(tmp_path / "on").Scalars("x")] == [2.0]


def test_bad_reduce_names_the_argument(tmp_path):
    with vizlog.Logger("fake") as log, pytest.raises(ValueError, match=r"scalar\(reduce=...\)"):
        log.scalar("x", 1.0, 0, reduce="average")
