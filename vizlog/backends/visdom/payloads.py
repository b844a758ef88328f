"""Records to Visdom messages: pure functions, no I/O.

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
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vizlog.backends.visdom import views_media
from vizlog.records import (
    Embedding,
    Graph,
    Histogram,
    Image,
    PRCurve,
    Record,
    Scalar,
    Scalars,
    Text,
)

APPEND = "append"
WINDOW = "window"
TRACE = "trace"

#: Percentiles drawn in the histogram's movement window, as TensorBoard's DISTRIBUTIONS tab.
TREND_LEVELS: tuple[tuple[str, float], ...] = (
    ("min", 0.0),
    ("16%", 0.16),
    ("median", 0.5),
    ("84%", 0.84),
    ("max", 1.0),
)

#: What the server puts between two appended pieces of text; our own text never contains it.
TEXT_SEPARATOR = "<br>"

_MARGIN = {"l": 60, "r": 60, "t": 60, "b": 60}


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

    @property
    def key(self) -> str:
        """What the op changes: a trace of a window, or the window as a whole."""
        if self.mode == WINDOW:
            return self.win
        return self.win + "\x1f" + "\x1e".join(self.names)


def window_id(kind: str, tag: str) -> str:
    """One window per concept and tag, so a scalar and a text with the same tag do not clash."""
    return f"{kind}:{tag}"


# --------------------------------------------------------------------------------------------
# Message builders (what goes over the wire)


def _layout(title: str, xtitle: str | None = None, ytitle: str | None = None, **extra: Any):
    layout: dict[str, Any] = {"title": title, "margin": dict(_MARGIN), "showlegend": True}
    layout["xaxis"] = {"title": xtitle} if xtitle else {}
    layout["yaxis"] = {"title": ytitle} if ytitle else {}
    layout.update(extra)
    return layout


def _line_trace(name: str, xs: list[Any], ys: list[Any]) -> dict[str, Any]:
    return {"x": xs, "y": ys, "name": name, "type": "scatter", "mode": "lines"}


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
        data.append(_line_trace(name, xs, [_finite(item[1][k]) for item in items]))
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
# Pure helpers


def escape_text(text: str) -> str:
    """Logged text is data: escape it, keep its line breaks visible.

    Line breaks become ``<br/>``, never ``<br>``: the server joins appended pieces with
    ``<br>``, and counting those is how the sender knows how many pieces arrived.
    """
    return html.escape(text, quote=True).replace("\r\n", "\n").replace("\n", "<br/>")


def text_entry(step: int, text: str) -> str:
    return f"<b>step {step}</b>: {escape_text(text)}"


def png_data_url(pixels: np.ndarray) -> str:
    """HWC uint8 (RGB or RGBA) -> ``data:image/png;base64,...``, as the Visdom page shows it."""
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def pca_project(mat: np.ndarray, dims: int = 2) -> np.ndarray:
    """The points on their ``dims`` main axes (PCA by SVD); missing axes are zeros."""
    data = np.asarray(mat, dtype=np.float64)
    centred = data - data.mean(axis=0, keepdims=True)
    out = np.zeros((data.shape[0], dims))
    if data.shape[0] > 1 and np.any(centred):
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        k = min(dims, vt.shape[0])
        out[:, :k] = centred @ vt[:k].T
    return out


def bin_bars(record: Histogram) -> tuple[list[float], list[float], list[float]]:
    """Centres, widths and counts of the non-empty bins (TensorBoard bins: right edges)."""
    limits = np.asarray(record.bucket_limits, dtype=np.float64)
    counts = np.asarray(record.bucket_counts, dtype=np.float64)
    if limits.size < 2:
        width = max(abs(record.max - record.min), 1e-12)
        return [(record.min + record.max) / 2], [width], [float(counts.sum())]
    left = np.empty_like(limits)
    left[1:] = limits[:-1]
    left[0] = limits[0] - (limits[1] - limits[0])  # bin 0 is the empty one holding the edge
    keep = counts > 0
    centres = (left + limits) / 2
    widths = limits - left
    return centres[keep].tolist(), widths[keep].tolist(), counts[keep].tolist()


def bin_percentiles(record: Histogram, levels: Sequence[float]) -> list[float]:
    """Approximate quantiles from the bins, interpolating inside a bin, clamped to min/max."""
    limits = np.asarray(record.bucket_limits, dtype=np.float64)
    counts = np.asarray(record.bucket_counts, dtype=np.float64)
    total = float(counts.sum())
    out = []
    for level in levels:
        if level <= 0.0 or total <= 0:
            out.append(record.min if level <= 0.5 else record.max)
            continue
        if level >= 1.0:
            out.append(record.max)
            continue
        target = level * total
        cumulative = np.cumsum(counts)
        i = int(np.searchsorted(cumulative, target, side="left"))
        i = min(i, counts.size - 1)
        right = limits[i]
        left = limits[i - 1] if i > 0 else min(record.min, right)
        before = cumulative[i - 1] if i > 0 else 0.0
        inside = counts[i]
        fraction = (target - before) / inside if inside > 0 else 1.0
        value = left + fraction * (right - left)
        out.append(float(min(max(value, record.min), record.max)))
    return out


def graph_html(structure: Sequence[tuple[str, str, int]]) -> str:
    """The module tree as indented, escaped lines: ``name (Class, N params)``.

    The rows carry each module's own parameters; the tree shows each module's total
    (its own plus its children's), which is what a reader compares.
    """
    totals: dict[str, int] = {}
    for path, _, own in structure:
        parts = path.split(".") if path else []
        for depth in range(len(parts) + 1):
            prefix = ".".join(parts[:depth])
            totals[prefix] = totals.get(prefix, 0) + int(own)
    lines = []
    for path, class_name, _ in structure:
        depth = path.count(".") + 1 if path else 0
        name = path.rsplit(".", 1)[-1] if path else "(model)"
        indent = "&nbsp;" * (4 * depth)
        lines.append(
            f"{indent}<b>{html.escape(name)}</b> ({html.escape(class_name)}, "
            f"{totals.get(path, 0):,} params)"
        )
    return '<div style="font-family: monospace">' + "<br/>".join(lines) + "</div>"


# --------------------------------------------------------------------------------------------
# Records -> operations


def _scalar_ops(record: Scalar, options: dict[str, Any]) -> list[Op]:
    win = window_id("scalar", record.tag)
    template = {"layout": _layout(record.tag, "step"), "opts": {"title": record.tag}}
    return [Op(win, APPEND, (record.tag,), ((record.step, (record.value,)),), template=template)]


def _scalars_ops(record: Scalars, options: dict[str, Any]) -> list[Op]:
    win = window_id("scalars", record.tag)
    template = {"layout": _layout(record.tag, "step"), "opts": {"title": record.tag}}
    return [
        Op(win, APPEND, (key,), ((record.step, (value,)),), template=template)
        for key, value in record.values.items()
    ]


def _text_ops(record: Text, options: dict[str, Any]) -> list[Op]:
    win = window_id("text", record.tag)
    template = {"type": "text", "opts": {"title": record.tag}}
    return [Op(win, APPEND, ("text",), (text_entry(record.step, record.text),), template=template)]


def _histogram_ops(record: Histogram, options: dict[str, Any]) -> list[Op]:
    centres, widths, counts = bin_bars(record)
    title = f"{record.tag} (step {record.step})"
    bars = {
        "win": window_id("histogram", record.tag),
        "data": [
            {
                "x": centres,
                "y": counts,
                "width": widths,
                "type": "bar",
                "name": f"step {record.step}",
            }
        ],
        "layout": _layout(title, "value", "count", showlegend=False, bargap=0),
        "opts": {"title": title},
    }
    names = tuple(name for name, _ in TREND_LEVELS)
    values = bin_percentiles(record, [level for _, level in TREND_LEVELS])
    trend_title = f"{record.tag} (distribution over steps)"
    trend = Op(
        window_id("histogram-trend", record.tag),
        APPEND,
        names,
        ((record.step, tuple(values)),),
        template={"layout": _layout(trend_title, "step"), "opts": {"title": trend_title}},
    )
    return [trend, Op(bars["win"], WINDOW, message=bars)]


def _image_ops(record: Image, options: dict[str, Any]) -> list[Op]:
    height, width = int(record.pixels.shape[0]), int(record.pixels.shape[1])
    caption = f"{record.tag}, step {record.step}"
    win = window_id("image", record.tag)
    message = {
        "win": win,
        "data": [
            {"content": {"src": png_data_url(record.pixels), "caption": caption}, "type": "image"}
        ],
        "opts": {"title": record.tag, "caption": caption, "width": width, "height": height},
    }
    return [Op(win, WINDOW, message=message)]


def _embedding_ops(record: Embedding, options: dict[str, Any]) -> list[Op]:
    dims = int(options.get("embedding_dims", 2))
    points = pca_project(record.mat, dims)
    labels = [row[0] for row in record.metadata] if record.metadata else ["points"] * len(points)
    hover = ["\t".join(row) for row in record.metadata] if record.metadata else None
    kind = "scatter3d" if dims == 3 else "scatter"
    data = []
    for label in dict.fromkeys(labels):
        index = [i for i, value in enumerate(labels) if value == label]
        trace: dict[str, Any] = {
            "x": points[index, 0].tolist(),
            "y": points[index, 1].tolist(),
            "name": label,
            "type": kind,
            "mode": "markers",
            "marker": {"size": 6 if dims == 3 else 8},
        }
        if dims == 3:
            trace["z"] = points[index, 2].tolist()
        if hover is not None:
            trace["text"] = [hover[i] for i in index]
        data.append(trace)
    title = f"{record.tag} (step {record.step}, PCA {dims}-D)"
    layout = _layout(title, "PC1", "PC2")
    if dims == 3:
        layout["scene"] = {
            "xaxis": {"title": "PC1"},
            "yaxis": {"title": "PC2"},
            "zaxis": {"title": "PC3"},
        }
    win = window_id("embedding", record.tag)
    return [
        Op(
            win,
            WINDOW,
            message={"win": win, "data": data, "layout": layout, "opts": {"title": title}},
        )
    ]


def _graph_ops(record: Graph, options: dict[str, Any]) -> list[Op]:
    win = window_id("graph", record.tag)
    message = {
        "win": win,
        "data": [{"content": graph_html(record.structure), "type": "text"}],
        "opts": {"title": f"{record.tag} (module tree)"},
    }
    return [Op(win, WINDOW, message=message)]


def _pr_curve_ops(record: PRCurve, options: dict[str, Any]) -> list[Op]:
    ap = record.average_precision
    title = f"{record.tag} (AP {ap:.4f} at step {record.step})"
    name = f"step {record.step}"
    win = window_id("pr_curve", record.tag)
    trace = _line_trace(
        name, np.asarray(record.recall).tolist(), np.asarray(record.precision).tolist()
    )
    layout = _layout(title, "recall", "precision")
    layout["xaxis"]["range"] = [0, 1]
    layout["yaxis"]["range"] = [0, 1.05]
    message = {"win": win, "data": [trace], "layout": layout, "opts": {"title": title}}
    return [Op(win, TRACE, (name,), message=message)]


_BUILDERS: dict[str, Callable[[Any, dict[str, Any]], list[Op]]] = {
    Scalar.kind: _scalar_ops,
    Scalars.kind: _scalars_ops,
    Text.kind: _text_ops,
    Histogram.kind: _histogram_ops,
    Image.kind: _image_ops,
    Embedding.kind: _embedding_ops,
    Graph.kind: _graph_ops,
    PRCurve.kind: _pr_curve_ops,
}

# ------------------------------------------------------------------- media concepts
# Audio, video, mesh, figure, hparams, custom scalars and raw TensorBoard events are drawn in
# views_media.py, which returns plain dicts of Op fields.


def _media_ops(view: Callable[[Any, dict[str, Any]], list[dict[str, Any]]]):
    return lambda record, options: [Op(**spec) for spec in view(record, options)]


_BUILDERS.update({kind: _media_ops(view) for kind, view in views_media.VIEWS.items()})


def record_ops(record: Record, options: dict[str, Any] | None = None) -> list[Op]:
    """The operations that show ``record``, in the order they should be sent.

    Appends come before window replacements, so that when delivery stops half way through a
    record, what is left to send is only what can be repeated safely.
    """
    return _BUILDERS[record.kind](record, options or {})


__all__ = [
    "APPEND",
    "WINDOW",
    "TRACE",
    "Op",
    "TREND_LEVELS",
    "window_id",
    "record_ops",
    "append_message",
    "trace_messages",
    "window_counts",
    "count_for",
    "escape_text",
    "text_entry",
    "png_data_url",
    "pca_project",
    "bin_bars",
    "bin_percentiles",
    "graph_html",
]
