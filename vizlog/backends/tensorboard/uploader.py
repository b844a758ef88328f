"""Sending a run's objects to its store, in order, on a thread of their own.

A store outage must not be a training outage.  The sender thread only hands finished objects
over (``put``: no network); this thread uploads them one at a time, in the order given, and
retries the oldest until the store takes it, so a reader never sees an object before the one
it follows, and a retried upload rewrites the same name with the same bytes (nothing twice).
What waits is kept in memory up to ``MEMORY_LIMIT`` bytes, then in a spool directory on local
disk (``<VIZLOG_SPOOL_DIR>/<scheme>/<bucket>/<path>/unsent-*``), which survives even a
killed process.  One warning per outage.  ``close()`` waits a bounded time; what the store
would not take by then stays in the spool, and the warning says where and how to send it
(``vizlog upload DIR``, or ``send_spool``).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import warnings
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

MEMORY_LIMIT = 32 << 20
#: retries of the oldest object back off from the first to the last wait
RETRY_FIRST, RETRY_LAST = 0.5, 8.0
#: close() gives up when no object went through for this long, or after the longer bound
CLOSE_STALL_SECONDS, CLOSE_MAX_SECONDS = 10.0, 45.0
DESTINATION = "DESTINATION"
_spools = itertools.count()


@dataclass
class _Item:
    number: int  # the order of put(), which the spool's file names keep
    name: str
    size: int
    data: bytes | None = None  # in memory, or
    path: str | None = None  # in the spool

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        with open(self.path, "rb") as f:
            return f.read()


class Uploader:
    """Uploads ``put`` objects under ``root`` of ``fs``, in order, whatever the store does."""

    def __init__(self, fs: Any, root: str, url: str, home: str) -> None:
        self.fs, self.root, self.url = fs, root, url
        self.spool = os.path.join(home, f"unsent-{int(time.time())}-{os.getpid()}-"
                                        f"{next(_spools)}")
        self.sent = 0  # objects the store took
        self.bytes_sent = 0
        self._queue: deque[_Item] = deque()
        self._memory = 0
        self._count = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._closing = self._stopped = False
        self._outage = False
        self._progress_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="vizlog-upload", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ the sender thread's side

    def put(self, name: str, data: bytes) -> None:
        """Queue one object; never waits for the store.  Called from one thread only."""
        self._count += 1
        item = _Item(self._count, name, len(data), data=data)
        with self._lock:
            in_memory = self._memory + len(data) <= MEMORY_LIMIT
            if in_memory:
                self._memory += len(data)
        if not in_memory:
            self._to_disk(item)
        with self._lock:
            self._queue.append(item)
            self._changed.notify_all()

    def _to_disk(self, item: _Item) -> None:
        os.makedirs(self.spool, exist_ok=True)
        marker = os.path.join(self.spool, DESTINATION)
        if not os.path.exists(marker):
            with open(marker, "w", encoding="utf-8") as f:
                f.write(self.url + "\n")
        path = os.path.join(self.spool, f"{item.number:09d}.{quote(item.name, safe='')}")
        with open(path, "wb") as f:
            f.write(item.read())
        item.path, item.data = path, None

    def close(self) -> bool:
        """Wait until the store has everything, or until it stalls ``CLOSE_STALL_SECONDS``
        (at most ``CLOSE_MAX_SECONDS``); True when everything was sent.  What was not sent is
        left in the spool, with one warning saying where."""
        give_up = time.monotonic() + CLOSE_MAX_SECONDS
        with self._lock:
            self._closing = True
            self._progress_at = time.monotonic()
            self._changed.notify_all()
            while self._queue:
                now = time.monotonic()
                if now >= give_up or now - self._progress_at >= CLOSE_STALL_SECONDS:
                    break
                self._changed.wait(0.1)
            self._stopped = True
            left = list(self._queue)
            self._queue.clear()
            self._changed.notify_all()
        if not left:
            self._thread.join(1.0)
            if os.path.isdir(self.spool) and os.listdir(self.spool) == [DESTINATION]:
                _remove(os.path.join(self.spool, DESTINATION))
                os.rmdir(self.spool)
            return True
        for item in left:
            if item.path is None:
                self._to_disk(item)
        size = sum(item.size for item in left)
        warnings.warn(
            f"vizlog: {len(left)} object(s) ({size:,} bytes) of {self.url} could not be sent "
            f"before close(); they are kept in {self.spool}: send them with "
            f"`vizlog upload {self.spool}` once the store answers",
            RuntimeWarning,
            stacklevel=2,
        )
        return False

    # ------------------------------------------------------------ the upload thread

    def _run(self) -> None:
        wait = RETRY_FIRST
        while True:
            with self._lock:
                while not self._queue and not self._stopped:
                    self._changed.wait()
                if self._stopped:
                    return
                item = self._queue[0]
            try:
                data = item.read()
                self.fs.pipe_file(f"{self.root}/{item.name}", data)
            except Exception as exc:  # noqa: BLE001 - any failure: keep it, retry later
                self._failed(exc)
                retry_at = time.monotonic() + wait
                with self._lock:
                    while not self._stopped and time.monotonic() < retry_at:
                        self._changed.wait(retry_at - time.monotonic())
                wait = min(wait * 2, RETRY_LAST)
                continue
            wait = RETRY_FIRST
            with self._lock:
                if self._stopped:  # close() gave up meanwhile: the spool keeps a copy
                    return
                self._queue.popleft()
                if item.data is not None:
                    self._memory -= item.size
                self.sent += 1
                self.bytes_sent += item.size
                self._outage = False
                self._progress_at = time.monotonic()
                self._changed.notify_all()
            if item.path is not None:
                _remove(item.path)

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            if self._outage or self._stopped:
                return
            self._outage = True
            waiting = len(self._queue)
        warnings.warn(
            f"vizlog: cannot write to {self.url} ({type(exc).__name__}: {exc}); logging goes "
            f"on: {waiting} object(s) wait, kept in memory then in {self.spool}, and are sent "
            "in order when the store answers",
            RuntimeWarning,
            stacklevel=1,
        )


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def send_spool(directory: str, storage_options: dict[str, Any] | None = None) -> int:
    """Send what a closed run left in its spool ``directory`` to the store it was meant for,
    in order; returns how many objects were sent.  Each is removed once the store has it, so
    sending again after a failure sends only the rest."""
    from vizlog.logdirs import filesystem

    marker = os.path.join(directory, DESTINATION)
    try:
        with open(marker, encoding="utf-8") as f:
            url = f.read().strip()
    except FileNotFoundError:
        raise ValueError(f"{directory!r} is not a vizlog upload spool (no {DESTINATION} file)"
                         ) from None
    fs, root = filesystem(url, storage_options)
    sent = 0
    for entry in sorted(os.listdir(directory)):
        if entry == DESTINATION:
            continue
        path = os.path.join(directory, entry)
        with open(path, "rb") as f:
            fs.pipe_file(f"{root}/{unquote(entry.partition('.')[2])}", f.read())
        os.remove(path)
        sent += 1
    os.remove(marker)
    os.rmdir(directory)
    return sent
