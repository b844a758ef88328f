"""Read every scalar back from TensorBoard event files, and write them as CSV or JSON.

The successor of tensorboardX's ``export_scalars_to_json``: it reads the files themselves, so
it covers logs written by ``torch.utils.tensorboard`` and ``tensorboardX`` alike, old-style
``simple_value`` and tensor summaries, ``scalar`` and ``scalars`` (whose per-key sub-runs are
just more runs).  One row per point: run, tag, step, walltime, value.  The run is the event
file's directory relative to the logdir, ``"."`` for the logdir itself.  A logdir may be an
fsspec URL (``s3://bucket/runs``): its event files are fetched whole, many at a time.

vizlog's own ``scalars`` keys, kept in one sub-run per key so that TensorBoard draws them in
one card (``backends/tensorboard/scalars_layout.py``), are given back as logged: tag
``main_tag/key`` in the run that logged them.
"""

from __future__ import annotations

import csv
import json
import os
import posixpath
import struct
from collections.abc import Iterable, Iterator
from typing import IO, Any

from vizlog import logdirs
from vizlog.backends.tensorboard.scalars_layout import is_key_file, key_of

COLUMNS = ("run", "tag", "step", "walltime", "value")
FORMATS = ("csv", "json")

Row = dict[str, Any]
#: event files fetched from a store per request batch
FETCH_BATCH = 64


def event_files(logdir: str | os.PathLike[str],
                storage_options: dict[str, Any] | None = None) -> Iterator[tuple[str, str]]:
    """``(run, path)`` for every event file under ``logdir``, in a stable order."""
    root = logdirs.normalise(os.fspath(logdir))
    if logdirs.is_url(root):
        yield from _store_event_files(root, storage_options)
        return
    if not os.path.isdir(root):
        raise ValueError(f"logdir={root!r} is not a directory")
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        run = os.path.relpath(directory, root)
        run = "." if run == os.curdir else run.replace(os.sep, "/")
        for name in sorted(files):
            if "tfevents" in name:
                yield run, os.path.join(directory, name)


def _store_event_files(url: str, storage_options: dict[str, Any] | None
                       ) -> Iterator[tuple[str, str]]:
    fs, root = logdirs.filesystem(url, storage_options)
    if not fs.isdir(root):
        raise ValueError(f"logdir={url!r} is not a directory (no object under it)")
    found = []
    for path in fs.find(root):
        path = path.rstrip("/")
        if "tfevents" in posixpath.basename(path):
            run = posixpath.relpath(posixpath.dirname(path), root)
            found.append(("." if run == os.curdir else run, path))
    yield from sorted(found)


def _events_by_file(logdir: str | os.PathLike[str], storage_options: dict[str, Any] | None
                    ) -> Iterator[tuple[str, str, Iterable[Any]]]:
    """``(run, path, events)`` per event file, as TensorBoard's loader gives them."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    files = list(event_files(logdir, storage_options))
    url = logdirs.normalise(os.fspath(logdir))
    if not logdirs.is_url(url):
        for run, path in files:
            yield run, path, EventFileLoader(path).Load()
        return
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.data_compat import migrate_event
    from tensorboard.dataclass_compat import migrate_event as migrate_dataclass

    # The objects of a store are complete event files, never appended to: each is fetched
    # whole, FETCH_BATCH per round trip, and goes through the loader's read-time migrations.
    fs, _ = logdirs.filesystem(url, storage_options)
    metadata: dict[str, dict[str, Any]] = {}
    for start in range(0, len(files), FETCH_BATCH):
        batch = files[start:start + FETCH_BATCH]
        data = fs.cat([path for _, path in batch])
        for run, path in batch:
            run_metadata = metadata.setdefault(run, {})
            yield run, path, (
                migrated
                for record in _records(data[path])
                for migrated in migrate_dataclass(
                    migrate_event(Event.FromString(record)), run_metadata)
            )


def _records(data: bytes) -> Iterable[bytes]:
    """The records of a TFRecord file; a torn or corrupt tail ends it, as in the loader."""
    from vizlog.backends.tensorboard.eventfile import masked_crc32c

    offset = 0
    while offset + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, offset)
        end = offset + 12 + length + 4
        if end > len(data):
            return
        body = data[offset + 12:end - 4]
        if struct.unpack_from("<I", data, end - 4)[0] != masked_crc32c(body):
            return
        yield body
        offset = end


def iter_scalars(logdir: str | os.PathLike[str],
                 storage_options: dict[str, Any] | None = None) -> Iterator[Row]:
    """Every scalar point under ``logdir``, file by file, in the order it was written."""
    try:
        from tensorboard.compat.proto.summary_pb2 import DATA_CLASS_SCALAR
        from tensorboard.util import tensor_util
    except ImportError as exc:
        raise ImportError(
            'reading event files needs the tensorboard package: pip install "vizlog[tensorboard]"'
        ) from exc

    by_run: dict[str, dict[str, bool]] = {}
    for run, path, events in _events_by_file(logdir, storage_options):
        # metadata may come only with a tag's first value, in a run's first file
        is_scalar = by_run.setdefault(run, {})
        suffix = ""  # what a key run's points add to their tags
        if is_key_file(path):
            run, suffix = _key_run(run, path)
        for event in events:
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
                    "tag": value.tag + suffix,
                    "step": int(event.step),
                    "walltime": float(event.wall_time),
                    "value": float(tensor_util.make_ndarray(value.tensor).item()),
                }


def _key_run(run: str, path: str) -> tuple[str, str]:
    """The run that logged a key run's points, and ``/key`` to add to their tags."""
    head, _, name = run.rpartition("/")
    if run == ".":  # the logdir given is the key's own directory
        name = os.path.basename(os.path.dirname(os.path.abspath(path)))
    return head or ".", "/" + key_of(name)


def scalar_rows(logdir: str | os.PathLike[str],
                storage_options: dict[str, Any] | None = None) -> list[Row]:
    """All scalar points, sorted by run, tag, step and walltime."""
    return sorted(iter_scalars(logdir, storage_options),
                  key=lambda r: (r["run"], r["tag"], r["step"], r["walltime"]))


def read_scalars(logdir: str | os.PathLike[str],
                 storage_options: dict[str, Any] | None = None) -> Any:
    """Every scalar of every run under ``logdir``, written by either TensorBoard writer.

    ``logdir`` may be an fsspec URL (``s3://bucket/runs``), read with the store's standard
    configuration or ``storage_options``.  A pandas DataFrame with columns run, tag, step,
    walltime, value when pandas is installed, else a list of dicts with those keys.
    """
    if not isinstance(logdir, str | os.PathLike):
        raise TypeError(f"read_scalars(logdir=...): expected a path, got {type(logdir).__name__}")
    rows = scalar_rows(logdir, logdirs.check_options(storage_options))
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
