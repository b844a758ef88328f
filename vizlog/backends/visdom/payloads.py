"""Records to Visdom operations and messages: pure functions, no I/O.

Every record becomes one or more *operations* on named windows.  Keeping this apart from the
HTTP code lets the look of each concept be tested without a server, and lets the sender batch
operations (many points of one trace go in one request) without knowing what they mean.

Three kinds of operation exist, because they differ in what a retry does:

- ``append``: points added to the end of a trace (scalars, text, histogram movement).
  Sending one twice duplicates it, so the sender counts them.
- ``window``: the whole window replaced (image, histogram bars, embedding, graph).  Sending it
  again is harmless, and only the latest one of a batch needs to go.
- ``trace``: one named trace of a plot created or replaced (one PR curve per step).  Also
  harmless to repeat.

How each concept looks (which windows, what they draw) is decided in ``views.py``; this module
turns those window specs into operations and the operations into request bodies.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vizlog.backends.visdom import views, views_media
from vizlog.backends.visdom.views import (
    APPEND,
    TEXT_SEPARATOR,
    TRACE,
    TREND_LEVELS,
    WINDOW,
    line_trace,
    window_id,
)
from vizlog.records import Record, Scalar, Scalars


@dataclass(frozen=True)
class Op:
    """One change to one window.

    For ``append``: ``names`` are the traces (one, or several appended together in window
    order), ``items`` the appended points ``(x, (y per name))`` or HTML strings for text, and
    ``template`` what creates the window if it does not exist yet.  For ``window`` and
    ``trace``: ``message`` is the complete request body (without the environment).
    """

    win: str
    mode: str
    names: tuple[str, ...] = ()
    items: tuple[Any, ...] = ()
    template: dict[str, Any] = field(default_factory=dict)
    message: dict[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def key(self) -> str:
        """What the op changes: a trace of a window, or the window as a whole."""
        if self.mode == WINDOW:
            return self.win
        return self.win + "\x1f" + "\x1e".join(self.names)


# --------------------------------------------------------------------------------------------
# Message builders (what goes over the wire)


def _finite(value: float) -> float | None:
    """JSON has no NaN: plotly draws None as a gap, which is what a NaN loss should look like."""
    return value if math.isfinite(value) else None


def append_message(op: Op, items: Sequence[Any]) -> dict[str, Any]:
    """The ``/update`` body that appends ``items`` (points of ``op``'s traces) in one request.

    ``append=True`` makes the server create the window from this same body when it does not
    exist yet, so the first request needs no separate creation step.
    """
    opts = dict(op.template.get("opts", {}))
    if op.template.get("type") == "text":
        return {
            "win": op.win,
            "append": True,
            "data": [{"content": TEXT_SEPARATOR.join(items), "type": "text"}],
            "opts": opts,
        }
    xs = [item[0] for item in items]
    data = []
    for k, name in enumerate(op.names):
        data.append(line_trace(name, xs, [_finite(item[1][k]) for item in items]))
    message = {
        "win": op.win,
        "append": True,
        "data": data,
        "layout": op.template["layout"],
        "opts": opts,
    }
    if len(op.names) == 1:
        message["name"] = op.names[0]
    return message


def trace_messages(op: Op) -> tuple[dict[str, Any], dict[str, Any]]:
    """For a ``trace`` op: the ``/update`` body that replaces the named trace, and the
    ``/events`` body that creates the window with it when the window does not exist."""
    base = op.message
    update = {
        "win": op.win,
        "name": op.names[0],
        "append": False,
        "data": base["data"],
        "layout": base["layout"],
        "opts": base["opts"],
    }
    create = {"win": op.win, "data": base["data"], "layout": base["layout"], "opts": base["opts"]}
    return update, create


# --------------------------------------------------------------------------------------------
# Reading counts back (what the sender compares after an outage)


_TEXT = "\x00text"
_ALL = "\x00all"


def window_counts(window: Any) -> dict[str, int]:
    """A small summary of a window as the server holds it: items per trace (or text pieces).

    The sender keeps only this, not the window, to compare with what it believes it sent.
    """
    if not isinstance(window, dict):
        return {}
    content = window.get("content")
    if window.get("type") == "text":
        if not isinstance(content, str) or content == "":
            return {_TEXT: 0}
        return {_TEXT: content.count(TEXT_SEPARATOR) + 1}
    if not isinstance(content, dict):
        return {}
    counts: dict[str, int] = {}
    lengths = []
    for trace in content.get("data") or []:
        n = len(trace.get("x") or [])
        lengths.append(n)
        name = trace.get("name")
        if isinstance(name, str):
            counts[name] = n
    counts[_ALL] = min(lengths, default=0)
    return counts


def count_for(counts: dict[str, int], op: Op) -> int:
    """How many items of ``op``'s trace(s) a window summary (``window_counts``) holds."""
    if op.template.get("type") == "text":
        return counts.get(_TEXT, 0)
    if len(op.names) == 1:
        return counts.get(op.names[0], 0)
    return counts.get(_ALL, 0)


# --------------------------------------------------------------------------------------------
# Records -> operations


def _ops(view: Callable[[Any, dict[str, Any]], list[dict[str, Any]]]
         ) -> Callable[[Any, dict[str, Any]], list[Op]]:
    return lambda record, options: [Op(**spec) for spec in view(record, options)]


_BUILDERS: dict[str, Callable[[Any, dict[str, Any]], list[Op]]] = {
    kind: _ops(view) for views_of in (views.VIEWS, views_media.VIEWS)
    for kind, view in views_of.items()
}


def record_ops(record: Record, options: dict[str, Any] | None = None) -> list[Op]:
    """The operations that show ``record``, in the order they should be sent.

    Appends come before window replacements, so that when delivery stops half way through a
    record, what is left to send is only what can be repeated safely.
    """
    return _BUILDERS[record.kind](record, options or {})


#: per scalar tag, and per ``scalars`` tag and key, the op without items (bounded all the same)
_scalar_ops: dict[str, Op] = {}
_scalars_ops: dict[str, dict[str, Op]] = {}
_MAX_LINE_OPS = 10_000


def _new_line_op(record: Scalar | Scalars, name: str) -> Op:
    specs = (views.scalar_view(record, {}) if isinstance(record, Scalar)
             else views.scalars_view(record, {}))
    op = Op(**{**next(spec for spec in specs if spec["names"] == (name,)), "items": ()})
    if len(_scalar_ops) + len(_scalars_ops) < _MAX_LINE_OPS:
        if isinstance(record, Scalar):
            _scalar_ops[name] = op
        else:
            _scalars_ops.setdefault(record.tag, {})[name] = op
    return op


def record_items(record: Record, options: dict[str, Any] | None = None
                 ) -> list[tuple[Op, tuple[Any, ...]]]:
    """``record_ops`` as pairs of an op (its ``items`` left empty where they are given
    apart) and its items.  Scalars are most of what a run sends, and their ops are the same
    for every point of a tag but for the items: those are made once per tag, not per point
    (the sender's per-record work is taken from the training loop's cores)."""
    if isinstance(record, Scalar):
        tag = record.tag
        op = _scalar_ops.get(tag) or _new_line_op(record, tag)
        return [(op, ((record.step, (record.value,)),))]
    if isinstance(record, Scalars):
        step, ops = record.step, _scalars_ops.get(record.tag, {})
        return [(ops.get(key) or _new_line_op(record, key), ((step, (value,)),))
                for key, value in record.values.items()]
    return [(op, op.items) for op in record_ops(record, options)]


__all__ = [
    "APPEND",
    "WINDOW",
    "TRACE",
    "TEXT_SEPARATOR",
    "TREND_LEVELS",
    "Op",
    "window_id",
    "record_ops",
    "record_items",
    "append_message",
    "trace_messages",
    "window_counts",
    "count_for",
]
