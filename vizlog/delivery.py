"""Background delivery: the training thread hands records over; one thread per backend writes.

Handing a record over costs an append to a deque under a lock, so slow I/O (event files,
HTTP) never runs on the training thread.  The sender is not woken for each record (every
wake-up takes the GIL from the training thread): it looks every ``POLL_SECONDS``, and at
once when a batch of ``WAKE_AT`` records, a flush or a close is waiting.  The queue is
bounded: when it is full the caller waits until the sender has taken a batch (it never drops
a record).  The sender calls the backend's ``write_batch`` with everything queued so far, in
order, its ``tick`` when idle (retries, periodic saves), and ``flush``/``close`` when asked,
all from the same thread.
"""

from __future__ import annotations

import threading
import warnings
from collections import deque
from typing import Any

from vizlog.backends.base import Backend
from vizlog.deferred import Pending, resolve
from vizlog.records import Record

DEFAULT_QUEUE_SIZE = 100_000
MAX_BATCH = 10_000
#: the sender looks for records this often (and calls the backend's ``tick`` when idle)
POLL_SECONDS = 0.1
#: ... or as soon as this many are queued, or a flush or close is asked for
WAKE_AT = 1_000


class _Marker:
    """A flush or close request travelling in the queue behind the records it covers."""

    __slots__ = ("done", "close")

    def __init__(self, close: bool = False) -> None:
        self.done = threading.Event()
        self.close = close


class BackgroundDelivery:
    """Runs one backend on its own daemon thread; ``write`` only enqueues."""

    def __init__(self, backend: Backend, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self.backend = backend
        self.name = backend.name
        self._queue: deque[Any] = deque()
        self._queue_size = queue_size
        self._lock = threading.Lock()
        self._has_items = threading.Condition(self._lock)
        self._has_room = threading.Condition(self._lock)
        self._sender_waiting = False
        self._markers = 0  # flush/close requests queued: the sender must not doze
        self._closed = False
        self._warned: set[str] = set()
        self._thread = threading.Thread(
            target=self._run, name=f"vizlog-{backend.name}", daemon=True
        )
        self._thread.start()

    # ---------------------------------------------------------------- training-thread side

    def write(self, record: Record) -> None:
        with self._lock:
            if len(self._queue) >= self._queue_size:
                while len(self._queue) >= self._queue_size and self._thread.is_alive():
                    self._has_room.wait(0.1)
            self._queue.append(record)
            # Waking the sender for every record costs the training thread a GIL hand-over
            # per call; it wakes by itself every POLL_SECONDS, or here once a batch is due.
            if self._sender_waiting and len(self._queue) >= WAKE_AT:
                self._has_items.notify()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything written before this call is delivered (or spooled)."""
        return self._request(_Marker(), timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Flush, close the backend and stop the thread; later writes are ignored."""
        with self._lock:
            if self._closed:
                return True
            self._closed = True
        done = self._request(_Marker(close=True), timeout)
        self._thread.join(timeout)
        return done

    def _request(self, marker: _Marker, timeout: float | None) -> bool:
        with self._lock:
            self._queue.append(marker)
            self._markers += 1
            self._has_items.notify()
        while not marker.done.wait(0.1 if timeout is None else min(timeout, 0.1)):
            if not self._thread.is_alive():
                return False
            if timeout is not None:
                timeout -= 0.1
                if timeout <= 0:
                    return False
        return True

    # ---------------------------------------------------------------- sender side

    def _run(self) -> None:
        while True:
            with self._lock:
                if len(self._queue) < WAKE_AT and not self._markers:
                    self._sender_waiting = True
                    self._has_items.wait(POLL_SECONDS)
                    self._sender_waiting = False
                batch = []
                while self._queue and len(batch) < MAX_BATCH:
                    item = self._queue.popleft()
                    if isinstance(item, _Marker):
                        self._markers -= 1
                    batch.append(item)
                self._has_room.notify_all()
            if not batch:
                self._guard("tick", self.backend.tick)
                continue
            records: list[Record] = []
            for item in batch:
                if not isinstance(item, _Marker):
                    record = self._resolve(item)
                    if record is not None:
                        records.append(record)
                    continue
                if records:
                    self._guard("write", self.backend.write_batch, records)
                    records = []
                self._guard("flush", self.backend.close if item.close else self.backend.flush)
                item.done.set()
                if item.close:
                    return
            if records:
                self._guard("write", self.backend.write_batch, records)

    def _resolve(self, item: Record | Pending) -> Record | None:
        try:
            return resolve(item)
        except Exception as exc:  # noqa: BLE001 - never lose the sender over one record
            self._warn_once("prepare a record", exc)
            return None

    def _guard(self, what: str, call: Any, *args: Any) -> None:
        """A backend failure is reported once per kind and never stops the sender."""
        try:
            call(*args)
        except Exception as exc:  # noqa: BLE001 - the training run must go on
            self._warn_once(what, exc)

    def _warn_once(self, what: str, exc: Exception) -> None:
        key = f"{what}:{type(exc).__name__}"
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(
                f"vizlog: the {self.name!r} backend failed to {what} "
                f"({type(exc).__name__}: {exc}); logging goes on",
                RuntimeWarning,
                stacklevel=1,
            )
