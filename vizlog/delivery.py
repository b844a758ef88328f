"""Delivery: the training thread hands records over; one thread per backend writes them.

Handing a record over costs an append to a deque (under a lock, or for the quick path's
packed records without one), so slow I/O (event files, HTTP) never runs on the training
thread.  The sender is not woken for each record (every wake-up takes the GIL from the
training thread): it looks every ``backend.poll_seconds`` (TensorBoard: 0.4 s at the default
``flush_secs``), and at once when a batch of ``WAKE_AT`` records, a full queue, a flush or a
close is waiting.

Two bounds hold the training thread back, and only when the sender cannot keep up: the queue
holds at most ``queue_size`` records, and a backend with a ``max_lag`` (TensorBoard: what a
SIGKILL may lose) never lets the sender go longer than that without taking the queued
records.  Nothing is ever dropped to keep up.

One record that a backend fails to write is set aside and counted; the records around it are
written.  Failures are reported as warnings that repeat with the running count.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections import deque
from typing import Any, Protocol

from vizlog.backends.base import Backend
from vizlog.deferred import Packed, Pending, resolve
from vizlog.records import Record

DEFAULT_QUEUE_SIZE = 100_000
MAX_BATCH = 10_000
#: a waiting caller checks this often that the sender is still alive
POLL_SECONDS = 0.1
#: ... or as soon as this many are queued, or a flush or close is asked for
WAKE_AT = 1_000
#: the sender writes this many records at a time, then sleeps ``GIL_PAUSE`` seconds: the
#: GIL passes between threads only every 5 ms otherwise, and a training thread that comes
#: back from torch to Python while the sender holds it waits that long.  A chunk of 64 is
#: about 0.15 ms of work; chunks of 16 cost the sender half as much CPU again per record
WRITE_CHUNK = 64
GIL_PAUSE = 0.00005
#: ... unless a pause took longer than ``SLOW_PAUSE``: then the training thread is running
#: Python (and gets the GIL every 5 ms anyway), each pause would cost the sender up to 5 ms
#: waiting for the GIL back and its backlog would grow past ``max_lag``; it writes without
#: pauses for the next ``UNPAUSED_FOR`` seconds
SLOW_PAUSE = 0.001
UNPAUSED_FOR = 0.1
#: a failure that keeps happening is reported again at most this often, with its count
REPEAT_WARNING_SECONDS = 30.0


class Sink(Protocol):
    """How the Logger talks to a backend: directly, or through a sender thread."""

    backend: Backend

    def write(self, item: Record | Pending) -> None: ...
    def put(self, item: Packed) -> None: ...
    def flush(self, timeout: float | None = None) -> bool: ...
    def close(self, timeout: float | None = None) -> bool: ...


class FailureCounter:
    """Counts records a backend failed to handle and warns: at once for the first of a
    kind, then at most every ``REPEAT_WARNING_SECONDS`` with the running count."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.total = 0
        self._counts: dict[str, int] = {}
        self._reported: dict[str, int] = {}
        self._last_warning: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, what: str, exc: BaseException, count: int = 1) -> None:
        key = f"{what}: {type(exc).__name__}"
        now = time.monotonic()
        with self._lock:
            self.total += count
            self._counts[key] = self._counts.get(key, 0) + count
            last = self._last_warning.get(key)
            if last is not None and now - last < REPEAT_WARNING_SECONDS:
                return
            self._last_warning[key] = now
            total = self._counts[key]
            self._reported[key] = total
        lost = f"; {total} record(s) set aside so far" if total else ""
        warnings.warn(
            f"vizlog: the {self.name!r} backend failed to {what} ({type(exc).__name__}: "
            f"{exc}){lost}; logging goes on",
            RuntimeWarning,
            stacklevel=1,
        )

    def report_rest(self) -> None:
        """At close: say the final count of failures not yet reported."""
        with self._lock:
            late = {k: n for k, n in self._counts.items() if n != self._reported.get(k, 0)}
            self._reported.update(late)
        for key, total in late.items():
            warnings.warn(
                f"vizlog: the {self.name!r} backend failed to {key}: {total} record(s) in all",
                RuntimeWarning,
                stacklevel=1,
            )


class InlineDelivery:
    """A backend called on the logging thread (in-memory backends need no thread)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.failures = FailureCounter(backend.name)

    def write(self, item: Record | Pending | Packed) -> None:
        try:
            record = resolve(item)
        except Exception as exc:  # noqa: BLE001 - deferred work failing on one record
            self.failures.add("prepare a record", exc)
            return
        if record is not None:
            self.backend.write(record)

    def put(self, item: Packed) -> None:
        self.write(item)

    def flush(self, timeout: float | None = None) -> bool:
        self.backend.flush(_deadline(timeout))
        return True

    def close(self, timeout: float | None = None) -> bool:
        self.backend.close(_deadline(timeout))
        return True


class _Marker:
    """A flush or close request travelling in the queue behind the records it covers."""

    __slots__ = ("done", "close", "deadline")

    def __init__(self, close: bool = False, timeout: float | None = None) -> None:
        self.done = threading.Event()
        self.close = close
        #: when the caller stops waiting: the backend keeps what it cannot deliver by then
        self.deadline = _deadline(timeout)


class BackgroundDelivery:
    """Runs one backend on its own daemon thread; ``write`` only enqueues."""

    def __init__(self, backend: Backend, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self.backend = backend
        self.name = backend.name
        self._queue: deque[Any] = deque()
        self._queue_size = queue_size
        self._max_lag: float | None = backend.max_lag
        self._lock = threading.Lock()
        self._has_items = threading.Condition(self._lock)
        self._has_room = threading.Condition(self._lock)
        self._sender_waiting = False
        self._markers = 0  # flush/close requests queued: the sender must not doze
        #: when the sender last took the queued records (``time.monotonic()``)
        self._taken_at = time.monotonic()
        self._lag_bound = float("inf") if self._max_lag is None else self._max_lag
        self._poll = backend.poll_seconds
        self._unpaused_until = 0.0  # see UNPAUSED_FOR
        #: ``put`` appends without the lock below this length, ``write`` from there on
        self._put_below = min(queue_size, WAKE_AT)
        backend.pause = self._pause
        self._closed = False
        self.failures = FailureCounter(backend.name)
        self._thread = threading.Thread(
            target=self._run, name=f"vizlog-{backend.name}", daemon=True
        )
        self._thread.start()

    # ---------------------------------------------------------------- training-thread side

    def put(self, item: Packed) -> None:
        """``write`` for the quick path: an append without the lock (atomic, as deque's
        are) while neither bound is near; ``write`` when one may be."""
        queue = self._queue
        if len(queue) < self._put_below and time.monotonic() - self._taken_at < self._lag_bound:
            queue.append(item)
        else:
            self.write(item)

    def write(self, record: Record | Pending | Packed) -> None:
        with self._lock:
            queue = self._queue
            if queue and (len(queue) >= self._queue_size or self._too_far_behind()):
                self._wait_for_sender()
            queue.append(record)
            # Waking the sender for every record costs the training thread a GIL hand-over
            # per call; it wakes by itself every POLL_SECONDS, or here once a batch is due.
            if self._sender_waiting and len(queue) >= WAKE_AT:
                self._has_items.notify()

    def _too_far_behind(self) -> bool:
        return time.monotonic() - self._taken_at > self._lag_bound

    def _wait_for_sender(self) -> None:
        """Under the lock: wake the sender and wait until it has taken records."""
        while (self._queue and (len(self._queue) >= self._queue_size or self._too_far_behind())
               and self._thread.is_alive()):
            self._has_items.notify()
            self._has_room.wait(POLL_SECONDS)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything written before this call is delivered (or spooled), or
        ``timeout`` seconds; False when the time ran out."""
        return self._request(_Marker(timeout=timeout), timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Flush, close the backend and stop the thread, waiting at most ``timeout``."""
        with self._lock:
            if self._closed:
                return True
            self._closed = True
        deadline = None if timeout is None else time.monotonic() + timeout
        done = self._request(_Marker(close=True, timeout=timeout), timeout)
        self._thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        self.failures.report_rest()
        late = 0 if self._thread.is_alive() else sum(
            type(item) is not _Marker for item in self._queue)
        if late:  # a quick-path call racing with close(): too late, and said so
            warnings.warn(
                f"vizlog: {late} record(s) logged while the Logger was closing came after its "
                f"last write to the {self.name!r} backend and were not written",
                RuntimeWarning, stacklevel=2)
        return done

    def _request(self, marker: _Marker, timeout: float | None) -> bool:
        with self._lock:
            self._queue.append(marker)
            self._markers += 1
            self._has_items.notify()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL_SECONDS if deadline is None else min(POLL_SECONDS,
                                                             deadline - time.monotonic())
            if left <= 0:
                return marker.done.is_set()
            if marker.done.wait(left):
                return True
            if not self._thread.is_alive():
                return marker.done.is_set()

    # ---------------------------------------------------------------- sender side

    def _take(self) -> list[Any]:
        with self._lock:
            if len(self._queue) < WAKE_AT and not self._markers:
                self._sender_waiting = True
                self._has_items.wait(self._poll)
                self._sender_waiting = False
            # from the left, one at a time: ``put`` may append meanwhile, without the lock
            take = self._queue.popleft
            batch = [take() for _ in range(min(len(self._queue), MAX_BATCH))]
            if self._markers:  # they are queued under the lock: none arrives meanwhile
                self._markers -= sum(type(item) is _Marker for item in batch)
            self._taken_at = time.monotonic()
            self._has_room.notify_all()
        return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                self._guard("keep up", self.backend.tick)
                continue
            records: list[Record] = []
            for item in batch:
                kind = type(item)
                if kind is not _Marker:
                    if kind is tuple:  # packed by the quick path
                        records.append(item[0](*item[1:]))
                    elif kind is not Pending:  # a record made on the training thread
                        records.append(item)
                    elif (record := self._resolve(item)) is not None:
                        records.append(record)
                    if len(records) >= WRITE_CHUNK:
                        self._write(records)
                        records = []
                        self._pause()
                    continue
                if records:
                    self._write(records)
                    records = []
                call = self.backend.close if item.close else self.backend.flush
                self._guard("flush", call, item.deadline)
                item.done.set()
                if item.close:
                    return
            if records:
                self._write(records)

    def _pause(self) -> None:
        """Let a training thread take the GIL, unless a flush or close is queued (it waits
        for the sender) or pausing is off (``UNPAUSED_FOR``); also the backend's ``pause``."""
        paused_at = time.monotonic()
        if self._markers or paused_at < self._unpaused_until:
            return
        time.sleep(GIL_PAUSE)
        if time.monotonic() - paused_at > SLOW_PAUSE:
            self._unpaused_until = paused_at + UNPAUSED_FOR

    def _write(self, records: list[Record]) -> None:
        try:
            failed = self.backend.write_batch(records)
        except Exception as exc:  # noqa: BLE001 - the whole batch: counted, run goes on
            self.failures.add("write", exc, len(records))
            return
        for record, error in failed:
            self.failures.add(f"write a {record.kind} record", error)

    def _resolve(self, item: Record | Pending) -> Record | None:
        try:
            return resolve(item)
        except Exception as exc:  # noqa: BLE001 - never lose the sender over one record
            self.failures.add("prepare a record", exc)
            return None

    def _guard(self, what: str, call: Any, *args: Any) -> None:
        """A backend failure is counted and reported; it never stops the sender."""
        try:
            call(*args)
        except Exception as exc:  # noqa: BLE001 - the training run must go on
            self.failures.add(what, exc, 0)


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout
