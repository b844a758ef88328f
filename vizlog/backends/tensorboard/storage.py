"""Where a TensorBoard run's files go: a local directory, or any fsspec URL.

A local logdir keeps the fast path: one event file appended with ``open()`` (``eventfile.py``).
A URL (``s3://``, ``gs://``, ``az://``, ``memory://``, ...) is an object store, which cannot
append; rewriting a growing object at every flush (what tensorboardX's S3 writer and
TensorBoard's own file layer do) costs the square of the run's length.  Here a run on a store
is a sequence of objects that are never rewritten: at each upload interval the events written
since the last one become a new, complete event file
``events.out.tfevents.<start>.<host>.<pid>.<n>.<seq>``, and TensorBoard reads a run's event
files in name order as one run.  The interval starts at ``flush_secs`` and doubles every
``OBJECTS_PER_DOUBLING`` objects, up to ``MAX_DOUBLINGS`` times, so that long runs keep a
reasonable number of objects (about 2,400 for a day at the default 2 s).  Uploads run on their
own thread (``uploader.py``): an unreachable store never slows the training loop.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import socket
import struct
import time
from collections.abc import Callable
from typing import Any, Protocol

from vizlog.backends.tensorboard.eventfile import EventFile, frame, purge_events
from vizlog.backends.tensorboard.uploader import Uploader
from vizlog.logdirs import filesystem, is_url, local_home

OBJECTS_PER_DOUBLING = 250
MAX_DOUBLINGS = 5
#: a new object is started early once this many bytes wait (images, histograms)
SEGMENT_BYTES = 8 << 20
_object_files = itertools.count()


class EventSink(Protocol):
    """An event file as the writer sees it, local or on a store."""

    def write(self, event: bytes) -> None: ...
    def write_framed(self, frames: bytes, count: int) -> None: ...
    def flush_if_due(self) -> bool: ...
    def flush(self) -> bool: ...
    def close(self) -> bool: ...


class LocalEventFile(EventFile):
    """The local event file; the writer already decides when a flush is due."""

    flush_if_due = EventFile.flush


class LocalStore:
    """A run in a local directory."""

    def __init__(self, logdir: str) -> None:
        self.logdir = logdir

    def event_file(self, flush_secs: float, filename_suffix: str = "",
                   purge_step: int | None = None, run: str | None = None) -> EventSink:
        """The run's event file (or, with ``run``, that of the sub-run ``<logdir>/<run>``),
        its name ending with ``filename_suffix``, opening with the purge of ``purge_step``."""
        logdir = self.logdir if run is None else os.path.join(self.logdir, *run.split("/"))
        return LocalEventFile(logdir, filename_suffix, purge_step)

    def _path(self, name: str) -> str:
        path = os.path.join(self.logdir, *name.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def put(self, name: str, data: bytes) -> None:
        """Write ``<logdir>/<name>`` whole (atomically: a reader never sees half of it)."""
        path = self._path(name)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    def load(self, name: str) -> None:
        """Nothing to do: ``update`` reads the file each time, under a lock."""

    def update(self, name: str, change: Callable[[bytes | None], bytes]) -> None:
        """Replace a file shared by every writer of the directory (two Loggers, a resumed
        run) with ``change(what is there now)``, under a file lock, so none loses another's."""
        path = self._path(name)
        with open(path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                try:
                    with open(path, "rb") as f:
                        earlier: bytes | None = f.read()
                except FileNotFoundError:
                    earlier = None
                self.put(name, change(earlier))
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def close(self) -> None:
        pass


class ObjectStore:
    """A run on an object store: every file is a new object, sent in order by an uploader."""

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        self.fs, self.root = filesystem(url, storage_options)
        self.uploader = Uploader(self.fs, self.root, url, local_home(url))
        self._latest: dict[str, bytes | None] = {}

    def event_file(self, flush_secs: float, filename_suffix: str = "",
                   purge_step: int | None = None, run: str | None = None) -> EventSink:
        return ObjectEventFile(self.uploader, flush_secs, filename_suffix, purge_step, run)

    def put(self, name: str, data: bytes) -> None:
        self.uploader.put(name, data)

    def load(self, name: str) -> None:
        """Read a shared file now, while constructing (the store just answered the probe),
        so that ``update`` never waits for the store on the sender thread."""
        try:
            self._latest[name] = bytes(self.fs.cat_file(f"{self.root}/{name}"))
        except FileNotFoundError:
            self._latest[name] = None

    def update(self, name: str, change: Callable[[bytes | None], bytes]) -> None:
        data = change(self._latest.get(name))
        self._latest[name] = data
        self.put(name, data)

    def close(self) -> None:
        self.uploader.close()


def open_store(logdir: str, storage_options: dict[str, Any] | None = None
               ) -> LocalStore | ObjectStore:
    return ObjectStore(logdir, storage_options) if is_url(logdir) else LocalStore(logdir)


def _file_version_event(walltime: float) -> bytes:
    # Event(wall_time=walltime, file_version="brain.Event:2"): every event file opens with it
    return b"\x09" + struct.pack("<d", walltime) + b"\x1a\x0dbrain.Event:2"


class ObjectEventFile:
    """One run's events on a store, as successive complete event files (objects)."""

    def __init__(self, uploader: Uploader, flush_secs: float, filename_suffix: str = "",
                 purge_step: int | None = None, run: str | None = None) -> None:
        self._uploader = uploader
        self._base_interval = flush_secs
        self.prefix = (f"{run + '/' if run else ''}events.out.tfevents.{int(time.time()):010d}."
                       f"{socket.gethostname()}.{os.getpid()}.{next(_object_files):06d}")
        self._suffix = filename_suffix
        self._pending: list[bytes] = []
        if purge_step is not None:  # at the start of the first object
            self._pending += [frame(e) for e in purge_events(purge_step, time.time())]
        self._size = 0
        self.objects = 0
        self._cut_at = time.monotonic()

    def interval(self) -> float:
        """Seconds between objects: ``flush_secs``, doubling as the run gets long."""
        return self._base_interval * 2 ** min(MAX_DOUBLINGS, self.objects // OBJECTS_PER_DOUBLING)

    def write(self, event: bytes) -> None:
        self.write_framed(frame(event), 1)

    def write_framed(self, frames: bytes, count: int) -> None:
        """``count`` events already framed (``eventfile.scalar_frames``)."""
        self._pending.append(frames)
        self._size += len(frames)
        if self._size >= SEGMENT_BYTES:
            self.flush()

    def flush_if_due(self) -> bool:
        if self._pending and time.monotonic() - self._cut_at >= self.interval():
            return self.flush()
        return True

    def flush(self) -> bool:
        """Hand what was written since the last object to the uploader, as a new object
        (which keeps it, store or no store: True)."""
        self._cut_at = time.monotonic()
        if not self._pending:
            return True
        self._pending.insert(0, frame(_file_version_event(time.time())))
        data = b"".join(self._pending)
        self._pending.clear()
        self._size = 0
        self._uploader.put(f"{self.prefix}.{self.objects:08d}{self._suffix}", data)
        self.objects += 1
        return True

    def close(self) -> bool:
        return self.flush()
