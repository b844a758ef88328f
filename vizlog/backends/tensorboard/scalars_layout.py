"""Where ``scalars(main_tag, {key: value})`` goes on disk, so TensorBoard draws one card per
main tag with one labelled, coloured line per key.

TensorBoard's TIME SERIES and SCALARS dashboards make one card per *tag* and one line per
*run*, coloured and named after the run.  A line per key therefore needs a run per key.  The
writers make one per main tag *and* key (``<logdir>/loss_train``, ``<logdir>/acc_train``, ...),
so every ``scalars`` call adds runs to the run list.  Here a key's run is shared by every main
tag: ``<logdir>/train`` holds ``loss``, ``acc``, ... of the key ``train``, so the run list
grows by one entry per distinct key (usually two or three: train, val, test), and the lines
are named ``<run>/train``, ``<run>/val``: the key, under the run it belongs to.

A key's event files end in ``KEY_FILE_SUFFIX``: that is how ``vizlog.read_scalars`` knows a
directory is a key of its parent run and gives the points back as ``main_tag/key`` of the
parent, as they were logged.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from vizlog.backends.tensorboard.eventfile import scalar_frames
from vizlog.backends.tensorboard.projector import safe_path_part
from vizlog.records import Scalars

#: The end of the name of every event file that holds one key of ``scalars`` calls.
KEY_FILE_SUFFIX = ".vizlog-scalars-key"


def key_dir_name(key: str) -> str:
    """The run directory of a key: the key itself where it is a safe directory name."""
    return safe_path_part(key)


def key_of(dir_name: str) -> str:
    """The key a key run's directory name stands for (the inverse of ``key_dir_name``)."""
    return unquote(dir_name)


def is_key_file(file_name: str) -> bool:
    return file_name.endswith(KEY_FILE_SUFFIX)


class KeyRuns:
    """One event file per key (in the run's store: a directory or an object store), opened
    at the key's first value and kept for the run.

    ``filename_suffix`` and ``purge_step`` are the run's: a resumed run purges what its keys
    logged at that step or later, as it purges its own points (no zig-zag in the key's line).
    """

    def __init__(self, store: Any, flush_secs: float, filename_suffix: str = "",
                 purge_step: int | None = None) -> None:
        self._store = store
        self._flush_secs = flush_secs
        self._suffix = filename_suffix + KEY_FILE_SUFFIX
        self._purge_step = purge_step
        self._files: dict[str, Any] = {}

    def write(self, record: Scalars) -> None:
        for key, value in record.values.items():
            self._file(key).write_framed(
                scalar_frames(((record.tag, value, record.step, record.walltime),)), 1)

    def write_many(self, records: list[Scalars], failed: list[tuple[Any, Exception]]) -> None:
        """Several calls, each key's points encoded in one go; a key whose file fails
        fails the records that hold it (added to ``failed``), the other keys go on."""
        points: dict[str, list[tuple[str, float, int, float]]] = {}
        for record in records:
            for key, value in record.values.items():
                point = (record.tag, value, record.step, record.walltime)
                if (key_points := points.get(key)) is None:
                    points[key] = [point]
                else:
                    key_points.append(point)
        refused: dict[int, tuple[Any, Exception]] = {}
        for key, key_points in points.items():
            try:
                self._file(key).write_framed(scalar_frames(key_points), len(key_points))
            except Exception as exc:  # noqa: BLE001 - the other keys are written
                for record in records:
                    if key in record.values:
                        refused.setdefault(id(record), (record, exc))
        failed.extend(refused.values())

    def _file(self, key: str) -> Any:
        file = self._files.get(key)
        if file is None:
            file = self._files[key] = self._store.event_file(
                self._flush_secs, self._suffix, self._purge_step, run=key_dir_name(key))
        return file

    def flush_if_due(self) -> None:
        for file in self._files.values():
            file.flush_if_due()

    def flush(self) -> bool:
        """Flush every key's file; True when all of them are whole on disk (or handed over)."""
        return all([file.flush() for file in self._files.values()])

    def close(self) -> bool:
        return all([file.close() for file in self._files.values()])
