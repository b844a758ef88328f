"""The fake backend (records kept in memory, for users' tests) and the ``none`` backend."""

from __future__ import annotations

import threading
from typing import Any

from vizlog.backends.base import Backend
from vizlog.records import Record, Scalar, Scalars

#: While a test holds the ``vizlog_fake`` fixture, Loggers made without an explicit backend
#: record into this instance (set and cleared by ``vizlog.testing``).
capture: FakeBackend | None = None


class FakeBackend(Backend):
    """Keeps every record, in order, exactly as the real backends receive them."""

    name = "fake"
    threaded = False
    writes_files = False

    def __init__(self, logdir: str = "", **_: Any) -> None:
        super().__init__(logdir)
        self.calls: list[Record] = []
        self._lock = threading.Lock()
        self.flushes = 0
        self.closed = False

    def write(self, record: Record) -> None:
        with self._lock:
            self.calls.append(record)

    def records(self, kind: str | None = None, tag: str | None = None) -> list[Record]:
        """The records of one kind (``"scalar"``, ``"image"``, ...) and/or one tag."""
        return [
            r for r in self.calls
            if (kind is None or r.kind == kind) and (tag is None or r.tag == tag)
        ]

    def scalars(self, tag: str) -> list[tuple[int, float]]:
        """``(step, value)`` of every scalar logged under ``tag``; ``scalars`` dicts count as
        ``main_tag/key``, as ``vizlog.read_scalars`` reads them back from TensorBoard files."""
        out = []
        for r in self.calls:
            if isinstance(r, Scalar) and r.tag == tag:
                out.append((r.step, r.value))
            elif isinstance(r, Scalars) and tag.startswith(r.tag + "/"):
                key = tag[len(r.tag) + 1 :]
                if key in r.values:
                    out.append((r.step, r.values[key]))
        return out

    def tags(self, kind: str | None = None) -> list[str]:
        return list(dict.fromkeys(r.tag for r in self.records(kind)))

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def flush(self, deadline: float | None = None) -> None:
        self.flushes += 1

    def close(self, deadline: float | None = None) -> None:
        self.closed = True


class NoneBackend(Backend):
    """Discards everything: logging switched off without touching the training code."""

    name = "none"
    threaded = False
    writes_files = False

    def write(self, record: Record) -> None:
        pass
