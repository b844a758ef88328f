"""Whole copies of the line windows this process created, so that their new points reach
the server as one replacement of the window instead of appends.

Visdom's ``/update`` deep-copies a window and diffs it against the result on every append:
on visdom 0.2.4 that is about 30 µs per point already in the window plus 100 µs per point
added, where ``/events`` takes a whole window at about 1.5 µs per point (2,000 points into a
fresh window: 205 ms appended, 6 ms whole; 100 more points on 10,000: 310 ms against 41 ms).
The server shares the training machine's cores more often than not, so its time is the
training loop's time.

A window that was not on the server when this process first reached it, and that this
process created, is known in full: sending it whole is cheaper for the server and harmless
to repeat.  The copy holds only what the server confirmed, as JSON text, so that a send
costs a join rather than an encode.  Windows past ``WINDOW_POINTS`` points, or beyond
``TOTAL_BYTES`` of copies in all (the largest first), are let go and get appends from then
on: the copy then costs more memory and bandwidth than it saves the server.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

#: a window longer than this is appended to instead (a whole send would resend ~25 bytes per
#: point, each second)
WINDOW_POINTS = 50_000
#: all copies together stay below this
TOTAL_BYTES = 64 << 20


def _number(value: Any) -> Any:
    """JSON has no NaN: plotly draws null as a gap, as appends do (``payloads._finite``)."""
    return value if math.isfinite(value) else None


def encode(op: Any, items: Sequence[Any]) -> tuple[str, list[str]]:
    """The x values of ``items`` and the y values of each of ``op``'s traces, as the inside
    of a JSON array."""
    xs = json.dumps([item[0] for item in items])[1:-1]
    ys = []
    for k in range(len(op.names)):
        values = [item[1][k] for item in items]
        try:  # finite, as nearly always: no call per value
            ys.append(json.dumps(values, allow_nan=False)[1:-1])
        except ValueError:
            ys.append(json.dumps([_number(value) for value in values])[1:-1])
    return xs, ys


class _Trace:
    __slots__ = ("xs", "ys", "count")

    def __init__(self) -> None:
        self.xs: list[str] = []
        self.ys: list[str] = []
        self.count = 0


class _Window:
    __slots__ = ("template", "traces", "size", "points")

    def __init__(self, template: dict[str, Any]) -> None:
        self.template = template
        self.traces: dict[str, _Trace] = {}
        self.size = 0  # bytes of JSON text held
        self.points = 0  # in its longest trace


class WindowCopies:
    """The copies, by window id; pure (no I/O)."""

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}
        self._appended: set[str] = set()  # windows decided to be appended to, for good
        self._bytes = 0

    def __contains__(self, win: str) -> bool:
        return win in self._windows

    def decided(self, win: str) -> bool:
        return win in self._windows or win in self._appended

    def adopt(self, win: str, template: dict[str, Any]) -> None:
        self._windows[win] = _Window(template)

    def append_to(self, win: str) -> None:
        """``win`` gets appends from now on (not ours, or too large)."""
        window = self._windows.pop(win, None)
        if window is not None:
            self._bytes -= window.size
        self._appended.add(win)

    def count(self, win: str, name: str) -> int:
        trace = self._windows[win].traces.get(name)
        return 0 if trace is None else trace.count

    def add(self, op: Any, items: Sequence[Any], encoded: tuple[str, list[str]] | None = None
            ) -> None:
        """``items`` of ``op`` arrived (confirmed by the server); nothing for other windows."""
        window = self._windows.get(op.win)
        if window is None or not items:
            return
        xs, ys = encoded if encoded is not None else encode(op, items)
        for name, y in zip(op.names, ys, strict=True):
            trace = window.traces.get(name)
            if trace is None:
                trace = window.traces[name] = _Trace()
            trace.xs.append(xs)
            trace.ys.append(y)
            trace.count += len(items)
            window.points = max(window.points, trace.count)
            added = len(xs) + len(y)
            window.size += added
            self._bytes += added
        if window.points > WINDOW_POINTS:
            self.append_to(op.win)
        while self._bytes > TOTAL_BYTES and self._windows:
            self.append_to(max(self._windows, key=lambda w: self._windows[w].size))

    def message(self, win: str, env: str,
                pending: Sequence[tuple[Any, tuple[str, list[str]]]] = ()) -> str:
        """The ``/events`` body that replaces ``win`` with its copy plus ``pending`` (each an
        op and its encoded new items), as JSON text."""
        window = self._windows[win]
        chunks: dict[str, tuple[list[str], list[str]]] = {
            name: (list(trace.xs), list(trace.ys)) for name, trace in window.traces.items()
        }
        for op, (xs, ys) in pending:
            for name, y in zip(op.names, ys, strict=True):
                xs_list, ys_list = chunks.setdefault(name, ([], []))
                xs_list.append(xs)
                ys_list.append(y)
        traces = []
        for name, (xs_list, ys_list) in chunks.items():
            head = json.dumps({"name": name, "type": "scatter", "mode": "lines"})[:-1]
            traces.append(f'{head}, "x": [{_join(xs_list)}], "y": [{_join(ys_list)}]}}')
        rest = json.dumps({"win": win, "eid": env, "layout": window.template["layout"],
                           "opts": window.template.get("opts", {})})[:-1]
        return f'{rest}, "data": [{", ".join(traces)}]}}'


def _join(chunks: list[str]) -> str:
    return ", ".join(chunk for chunk in chunks if chunk)


__all__ = ["TOTAL_BYTES", "WINDOW_POINTS", "WindowCopies", "encode"]
