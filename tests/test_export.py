"""Reading scalars back from real event files (``read_scalars``, ``vizlog export``)."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import vizlog
from vizlog import export

STEPS = range(4)


def loss(step: int) -> float:
    return 1.0 / (step + 1)


def points(rows, run: str, tag: str) -> list[tuple[int, float]]:
    return [(r["step"], r["value"]) for r in rows if r["run"] == run and r["tag"] == tag]


def expected(fn) -> list[tuple[int, float]]:
    return [(step, pytest.approx(fn(step))) for step in STEPS]


@pytest.fixture(scope="module")
def raw_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Scalars from both writers, written with their own APIs, next to non-scalar data."""
    pytest.importorskip("torch")
    pytest.importorskip("tensorboardX")
    import tensorboardX
    from torch.utils.tensorboard import SummaryWriter

    root = tmp_path_factory.mktemp("raw")
    with SummaryWriter(str(root)) as writer:  # the root itself is a run: "."
        for step in STEPS:
            writer.add_scalar("loss", loss(step), step)
    with SummaryWriter(str(root / "torch")) as writer:
        for step in STEPS:
            writer.add_scalar("loss", loss(step), step)  # simple_value
            writer.add_scalar("tensor_loss", 2 * loss(step), step, new_style=True)
            writer.add_scalars("pair", {"a": step, "b": -step}, step)  # one sub-run per key
            writer.add_histogram("weights", np.arange(10.0), step)
            writer.add_text("note", "not a scalar", step)
    with tensorboardX.SummaryWriter(str(root / "tbx")) as writer:
        for step in STEPS:
            writer.add_scalar("loss", loss(step), step)
            writer.add_scalars("pair", {"a": step, "b": -step}, step)
            writer.add_histogram("weights", np.arange(10.0), step)
    return root


def test_torch_writer_scalars_are_read_back(raw_logs: Path) -> None:
    rows = export.scalar_rows(raw_logs)
    assert points(rows, "torch", "loss") == expected(loss)
    assert points(rows, "torch", "tensor_loss") == expected(lambda s: 2 * loss(s))
    assert points(rows, "torch/pair_a", "pair") == expected(float)
    assert points(rows, "torch/pair_b", "pair") == expected(lambda s: -float(s))


def test_tensorboardx_writer_scalars_are_read_back(raw_logs: Path) -> None:
    rows = export.scalar_rows(raw_logs)
    assert points(rows, "tbx", "loss") == expected(loss)
    assert points(rows, "tbx/pair/a", "pair") == expected(float)
    assert points(rows, "tbx/pair/b", "pair") == expected(lambda s: -float(s))


def test_root_run_is_dot_and_only_scalars_are_exported(raw_logs: Path) -> None:
    rows = export.scalar_rows(raw_logs)
    assert points(rows, ".", "loss") == expected(loss)
    assert {r["tag"] for r in rows} == {"loss", "tensor_loss", "pair"}
    assert all(set(r) == set(export.COLUMNS) for r in rows)
    assert all(isinstance(r["step"], int) and r["walltime"] > 1e9 for r in rows)


@pytest.mark.parametrize("backend", ["tensorboard", "tensorboardx"])
def test_logs_written_by_vizlog_are_read_back(tmp_path: Path, backend: str) -> None:
    with vizlog.Logger(backend=backend, logdir=tmp_path / "run") as log:
        for step in STEPS:
            log.scalar("loss", loss(step), step=step)
            log.scalars("lr", {"enc": 0.1 * step, "dec": 0.2 * step}, step=step)
    frame = vizlog.read_scalars(tmp_path)
    rows = frame.to_dict("records")
    assert points(rows, "run", "loss") == expected(loss)
    assert points(rows, "run", "lr/enc") == expected(lambda s: 0.1 * s)
    assert points(rows, "run", "lr/dec") == expected(lambda s: 0.2 * s)
    assert set(frame["run"]) == {"run"}  # the keys' runs are read back as the run that logged them


def test_scalars_keys_that_are_no_directory_names_are_read_back_as_logged(tmp_path: Path) -> None:
    keys = ["a/b", "..", ".", "x" * 300, "100%", "train"]
    with vizlog.Logger(backend="tensorboard", logdir=tmp_path / "run") as log:
        log.scalars("m", {key: float(i) for i, key in enumerate(keys)}, step=0)
    runs = sorted(p.name for p in (tmp_path / "run").iterdir() if p.is_dir())
    assert "a%2Fb" in runs and "train" in runs and len(runs) == len(keys)
    assert all(len(name.encode()) <= 255 for name in runs)
    files = [f.name for f in (tmp_path / "run").rglob("*tfevents*") if f.parent.name == "train"]
    assert files and all(name.endswith(".vizlog-scalars-key") for name in files)
    rows = export.scalar_rows(tmp_path)
    readable = {r["tag"]: r["value"] for r in rows if len(r["tag"]) < 100}
    assert readable == {"m/a/b": 0.0, "m/..": 1.0, "m/.": 2.0, "m/100%": 4.0, "m/train": 5.0}
    assert {r["run"] for r in rows} == {"run"}
    # reading one key's directory on its own still names the key
    (row,) = export.scalar_rows(tmp_path / "run" / "train")
    assert (row["run"], row["tag"], row["value"]) == (".", "m/train", 5.0)


def test_read_scalars_is_a_dataframe_with_the_columns(raw_logs: Path) -> None:
    pandas = pytest.importorskip("pandas")
    frame = vizlog.read_scalars(raw_logs)
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame.columns) == list(export.COLUMNS)
    assert len(frame) == len(export.scalar_rows(raw_logs))


def test_read_scalars_without_pandas_is_a_list_of_dicts(
    raw_logs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    rows = vizlog.read_scalars(str(raw_logs))
    assert isinstance(rows, list) and rows == export.scalar_rows(raw_logs)


def test_empty_logdir_gives_no_rows(tmp_path: Path) -> None:
    assert export.scalar_rows(tmp_path) == []
    assert len(vizlog.read_scalars(tmp_path)) == 0


def test_bad_logdir_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="logdir="):
        vizlog.read_scalars(tmp_path / "missing")
    with pytest.raises(TypeError, match="logdir"):
        vizlog.read_scalars(42)


def test_csv_and_json_writers_round_trip() -> None:
    rows = [
        {"run": ".", "tag": "loss", "step": 1, "walltime": 1700000000.25, "value": 0.1},
        {"run": "a,b", "tag": 'q"t', "step": 2, "walltime": 1700000001.5, "value": math.nan},
    ]
    text = io.StringIO()
    export.write_csv(rows, text)
    back = list(csv.DictReader(io.StringIO(text.getvalue())))
    assert [(r["run"], r["tag"], int(r["step"])) for r in back] == [
        (".", "loss", 1),
        ("a,b", 'q"t', 2),
    ]
    assert float(back[0]["value"]) == 0.1 and math.isnan(float(back[1]["value"]))
    assert float(back[0]["walltime"]) == 1700000000.25

    text = io.StringIO()
    export.write_json(rows, text)
    loaded = json.loads(text.getvalue())  # strict JSON: NaN became null
    assert loaded[0] == rows[0]
    assert loaded[1]["value"] is None
    with pytest.raises(ValueError, match="format"):
        export.export(rows, io.StringIO(), "xml")


def _vizlog(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vizlog", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_export_csv_to_stdout(raw_logs: Path) -> None:
    result = _vizlog("export", str(raw_logs))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == list(export.COLUMNS)
    got = [(r["run"], r["tag"], int(r["step"]), float(r["value"])) for r in rows]
    want = [(r["run"], r["tag"], r["step"], r["value"]) for r in export.scalar_rows(raw_logs)]
    assert got == want


def test_cli_export_json_to_file(raw_logs: Path, tmp_path: Path) -> None:
    out = tmp_path / "scalars.json"
    result = _vizlog("export", str(raw_logs), "-o", str(out))  # format from the suffix
    assert result.returncode == 0, result.stderr
    rows = json.loads(out.read_text())
    assert rows == export.scalar_rows(raw_logs)
    assert f"wrote {len(rows)} scalars from 7 run(s) to {out}" in result.stderr

    out_csv = tmp_path / "scalars.txt"
    result = _vizlog("export", str(raw_logs), "--format", "csv", "-o", str(out_csv))
    assert result.returncode == 0
    assert out_csv.read_text().splitlines()[0] == "run,tag,step,walltime,value"


def test_cli_export_of_a_missing_logdir_is_a_clear_error(tmp_path: Path) -> None:
    result = _vizlog("export", str(tmp_path / "nope"))
    assert result.returncode == 1
    assert "is not a directory" in result.stderr and "nope" in result.stderr
    assert "Traceback" not in result.stderr
