"""Work that must not run on the training thread: finished where the record is delivered.

A ``Packed`` record is the quick path's: ``(record class, *fields)``, fields already checked.
Building a frozen record costs the training thread more than the rest of the call, so the
delivery thread builds it.

A ``Pending`` holds what is needed to build a record later: a snapshot of a large array to
bin, or the result of work queued on a CUDA stream (with an event that says when it is done).
The delivery thread calls ``resolve()``; the first caller builds the record, every other
backend gets the same one.  Validation has already happened on the caller's thread, so
resolving cannot fail on user input.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from vizlog.records import Record

#: ``(record class, *fields)``: a record to build with ``cls(*fields)``
Packed = tuple[Any, ...]


class Pending:
    """A record still being computed; ``resolve()`` returns it (or None: nothing to log)."""

    __slots__ = ("_make", "_record", "_lock", "_done")

    def __init__(self, make: Callable[[], Record | None]) -> None:
        self._make = make
        self._record: Record | None = None
        self._lock = threading.Lock()
        self._done = False

    def resolve(self) -> Record | None:
        with self._lock:
            if not self._done:
                self._record = self._make()
                self._done = True
                self._make = None  # type: ignore[assignment]  # free the snapshot
            return self._record


def resolve(item: Record | Pending | Packed) -> Record | None:
    kind = type(item)
    if kind is tuple:
        return item[0](*item[1:])  # type: ignore[index]
    return item.resolve() if kind is Pending else item  # type: ignore[union-attr,return-value]
