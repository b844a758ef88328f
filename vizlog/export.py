"""Read every scalar back from TensorBoard event files, and write them as CSV or JSON.

The successor of tensorboardX's ``export_scalars_to_json``: it reads the files themselves, so
it covers logs written by ``torch.utils.tensorboard`` and ``tensorboardX`` alike, old-style
``simple_value`` and tensor summaries, ``scalar`` and ``scalars`` (whose per-key sub-runs are
just more runs).  One row per point: run, tag, step, walltime, value.  The run is the event
file's directory relative to the logdir, ``"."`` for the logdir itself.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from typing import IO, Any

COLUMNS = ("run", "tag", "step", "walltime", "value")
FORMATS = ("csv", "json")

Row = dict[str, Any]


def event_files(logdir: str | os.PathLike[str]) -> Iterator[tuple[str, str]]:
    """``(run, path)`` for every event file under ``logdir``, in a stable order."""
    root = os.fspath(logdir)
    if not os.path.isdir(root):
        raise ValueError(f"logdir={root!r} is not a directory")
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        run = os.path.relpath(directory, root)
        run = "." if run == os.curdir else run.replace(os.sep, "/")
        for name in sorted(files):
            if "tfevents" in name:
                yield run, os.path.join(directory, name)


def iter_scalars(logdir: str | os.PathLike[str]) -> Iterator[Row]:
    """Every scalar point under ``logdir``, file by file, in the order it was written."""
    try:
        from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
        from tensorboard.compat.proto.summary_pb2 import DATA_CLASS_SCALAR
        from tensorboard.util import tensor_util
    except ImportError as exc:
        raise ImportError(
            'reading event files needs the tensorboard package: pip install "vizlog[tensorboard]"'
        ) from exc

    for run, path in event_files(logdir):
        is_scalar: dict[str, bool] = {}  # metadata may come only with a tag's first value
        for event in EventFileLoader(path).Load():
            if not event.HasField("summary"):
                continue
            for value in event.summary.value:
                if value.HasField("metadata"):
                    data_class = value.metadata.data_class
                    plugin = value.metadata.plugin_data.plugin_name
                    is_scalar[value.tag] = data_class == DATA_CLASS_SCALAR or (
                        plugin == "scalars" and not data_class
                    )
                if not is_scalar.get(value.tag) or not value.HasField("tensor"):
                    continue
                yield {
                    "run": run,
                    "tag": value.tag,
                    "step": int(event.step),
                    "walltime": float(event.wall_time),
                    "value": float(tensor_util.make_ndarray(value.tensor).item()),
                }


def scalar_rows(logdir: str | os.PathLike[str]) -> list[Row]:
    """All scalar points, sorted by run, tag, step and walltime."""
    return sorted(
        iter_scalars(logdir), key=lambda r: (r["run"], r["tag"], r["step"], r["walltime"])
    )


def read_scalars(logdir: str | os.PathLike[str]) -> Any:
    """Every scalar of every run under ``logdir``, written by either TensorBoard writer.

    A pandas DataFrame with columns run, tag, step, walltime, value when pandas is
    installed, else a list of dicts with those keys.
    """
    if not isinstance(logdir, str | os.PathLike):
        raise TypeError(f"read_scalars(logdir=...): expected a path, got {type(logdir).__name__}")
    rows = scalar_rows(logdir)
    try:
        import pandas
    except ImportError:
        return rows
    return pandas.DataFrame(rows, columns=list(COLUMNS))


def write_csv(rows: list[Row], stream: IO[str]) -> None:
    writer = csv.DictWriter(stream, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "walltime": repr(row["walltime"]), "value": repr(row["value"])})


def write_json(rows: list[Row], stream: IO[str]) -> None:
    """A JSON array of row objects; NaN and infinities are written as null (strict JSON)."""
    clean = [{**row, "value": row["value"] if _finite(row["value"]) else None} for row in rows]
    # One row per line: readable, and diff- and grep-friendly.
    lines = [json.dumps(row, allow_nan=False) for row in clean]
    stream.write("[\n" + ",\n".join(lines) + ("\n]\n" if lines else "]\n"))


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))


def export(rows: list[Row], stream: IO[str], fmt: str = "csv") -> None:
    if fmt == "csv":
        write_csv(rows, stream)
    elif fmt == "json":
        write_json(rows, stream)
    else:
        raise ValueError(f"export(format=...): expected one of {', '.join(FORMATS)}, got {fmt!r}")
