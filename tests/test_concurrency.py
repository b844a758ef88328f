"""Many threads, DataLoader workers and spawned processes around one Logger."""

from __future__ import annotations

import pickle
import threading
from collections import defaultdict

import numpy as np
import pytest
from eventfiles import accumulate

import vizlog

THREADS = 8
PER_THREAD = 5_000


def test_eight_threads_log_exactly_every_point_in_order(tmp_path):
    """Half the threads log their own tag with explicit steps, half share one tag with the
    Logger's automatic steps; both kinds must come back complete and in step order."""
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def work(index: int) -> None:
        try:
            start.wait()
            for i in range(PER_THREAD):
                if index % 2:
                    log.scalar("shared", float(index), None)
                else:
                    log.scalar(f"thread{index}", float(i), i)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    with vizlog.Logger(["tensorboard", "fake"], logdir=tmp_path) as log:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        fake = log.get_backend("fake")
        assert len(fake.records("scalar")) == THREADS * PER_THREAD
    assert errors == []

    acc = accumulate(tmp_path)
    total = 0
    per_value: dict[float, int] = defaultdict(int)
    for index in range(0, THREADS, 2):
        events = acc.Scalars(f"thread{index}")
        assert [e.step for e in events] == list(range(PER_THREAD))
        assert [e.value for e in events] == [float(i) for i in range(PER_THREAD)]
        total += len(events)
    shared = acc.Scalars("shared")
    assert [e.step for e in shared] == list(range(PER_THREAD * THREADS // 2))
    for event in shared:
        per_value[event.value] += 1
    assert per_value == {float(i): PER_THREAD for i in range(1, THREADS, 2)}
    total += len(shared)
    assert total == THREADS * PER_THREAD == 40_000


class _LoggingDataset:
    """A dataset whose items log: what user code inside a DataLoader worker might do."""

    def __init__(self, log: vizlog.Logger) -> None:
        self.log = log

    def __len__(self) -> int:
        return 64

    def __getitem__(self, i: int) -> np.ndarray:
        self.log.scalar("from_worker", float(i), i)
        self.log.scalar("loss", 99.0, 100 + i)  # a tag the parent logged (its quick path)
        self.log.scalars("pair", {"a": 99.0}, 100 + i)
        self.log.text("from_worker_text", "worker", i)
        self.log.flush()
        return np.full(4, i, dtype=np.float32)


def test_forked_dataloader_workers_leave_the_parents_files_alone(tmp_path):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    with vizlog.Logger("tensorboard", logdir=tmp_path) as log:
        log.scalar("loss", 1.0, 0)
        log.scalars("pair", {"a": 1.0}, 0)
        log.flush()
        files_before = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
        loader = DataLoader(_LoggingDataset(log), batch_size=8, num_workers=2,
                            multiprocessing_context="fork")
        seen = torch.cat([batch for batch in loader])
        assert sorted(seen[:, 0].tolist()) == [float(i) for i in range(64)]
        log.scalar("loss", 2.0, 1)  # the parent goes on logging afterwards
        log.flush()
        assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == files_before
    acc = accumulate(tmp_path)
    assert [(e.step, e.value) for e in acc.Scalars("loss")] == [(0, 1.0), (1, 2.0)]
    assert "from_worker" not in acc.Tags()["scalars"]
    assert [e.step for e in accumulate(tmp_path / "a").Scalars("pair")] == [0]
    assert acc.Tags()["tensors"] == []  # no text from the workers either


def _log_in_child(rank: int, log: vizlog.Logger) -> None:  # pragma: no cover - never runs
    log.scalar("x", 1.0, rank)


def test_spawn_refuses_a_logger_with_a_clear_message(tmp_path):
    mp = pytest.importorskip("torch.multiprocessing")
    with vizlog.Logger("tensorboard", logdir=tmp_path) as log:
        with pytest.raises(TypeError, match="cannot be sent to another process.*spawn"):
            mp.spawn(_log_in_child, args=(log,), nprocs=1, join=True)
        with pytest.raises(TypeError, match="create the Logger inside the process"):
            pickle.dumps(log)
        log.scalar("after", 1.0, 0)  # still fine in the parent
    assert [e.value for e in accumulate(tmp_path).Scalars("after")] == [1.0]
