"""How each core concept looks in Visdom: pure functions from a record to window specs.

A spec is a dict of ``payloads.Op`` fields (``win``, ``mode`` and either ``message`` for a
window shown whole, or ``names``/``items``/``template`` for points appended); ``payloads``
turns specs into operations and messages, so this module needs nothing from it.

A view is right when a person sees what was logged: histogram bars of equal width (the
TensorBoard bins grow exponentially away from zero), gaps between the pictures of a grid and
small pictures enlarged, windows sized to their content, and no points that were not logged.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from vizlog.concepts.image import GRID_COLUMNS
from vizlog.records import Embedding, Graph, Histogram, Image, PRCurve, Scalar, Scalars, Text

Spec = dict[str, Any]

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

#: Equal-width bars of a histogram: TensorBoard's histogram dashboard also draws 30.
HISTOGRAM_BARS = 30
#: Pixels between the pictures of a grid (torchvision's ``make_grid`` default), in the page's
#: own white, so they read as separate pictures whatever their background.
GRID_PADDING = 2
GRID_PAD_VALUE = 255
#: Small pictures are enlarged by a whole factor, pixel for pixel, until each reaches about
#: ``READABLE_SIDE`` pixels (longest side) or the grid ``MAX_SIDE``: an 8x8 digit is then
#: readable rather than a sliver, and a grid of them still fits a screen.
READABLE_SIDE = 160
MAX_SIDE = 640
#: What a Visdom image window needs beside its picture: the page draws the picture one pixel
#: wider than the window's width (so one less keeps it pixel for pixel), centred in a content
#: area whose bottom 20 pixels the caption covers.
_IMAGE_EXTRA = (-1, 45)
_TEXT_LINE_PX = 20
_TEXT_CHAR_PX = 8
_TEXT_MAX_HEIGHT = 900

_MARGIN = {"l": 60, "r": 60, "t": 60, "b": 60}


def window_id(kind: str, tag: str) -> str:
    """One window per concept and tag, so a scalar and a text with the same tag do not clash."""
    return f"{kind}:{tag}"


def layout(title: str, xtitle: str | None = None, ytitle: str | None = None,
           **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"title": title, "margin": dict(_MARGIN), "showlegend": True}
    out["xaxis"] = {"title": xtitle} if xtitle else {}
    out["yaxis"] = {"title": ytitle} if ytitle else {}
    out.update(extra)
    return out


def line_trace(name: str, xs: list[Any], ys: list[Any]) -> dict[str, Any]:
    return {"x": xs, "y": ys, "name": name, "type": "scatter", "mode": "lines"}


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


def bin_bars(record: Histogram, bars: int = HISTOGRAM_BARS
             ) -> tuple[list[float], list[float], list[float]]:
    """Centres, widths and counts of equal-width bars between ``min`` and ``max``.

    TensorBoard's default bins are about 10% of their distance from zero wide, so counts per
    bin are no picture of the distribution.  Each bin's count is spread evenly over the part of
    the bin inside ``[min, max]`` and gathered into ``bars`` equal bins (what TensorBoard's
    own histogram dashboard does); bins that are already equal are kept as they are.
    """
    limits = np.asarray(record.bucket_limits, dtype=np.float64)
    counts = np.asarray(record.bucket_counts, dtype=np.float64)
    low, high = float(record.min), float(record.max)
    total = float(counts.sum())
    if limits.size < 2 or not high > low:
        width = max(abs(high - low), abs(low) * 0.1, 1e-3)
        return [(low + high) / 2], [width], [total]
    widths = np.diff(limits)
    if limits.size > 2 and np.allclose(widths[1:], widths[1], rtol=1e-6):
        return ((limits[1:] + limits[:-1]) / 2).tolist(), widths.tolist(), counts[1:].tolist()
    # the distribution function through the bins' edges, linear inside each bin
    edges = np.clip(np.concatenate([[limits[0] - widths[0]], limits]), low, high)
    cumulative = np.concatenate([[0.0], np.cumsum(counts)])
    last = np.append(edges[1:] != edges[:-1], True)  # at a repeated edge, the highest count
    edges, cumulative = edges[last], cumulative[last]
    bounds = np.linspace(low, high, bars + 1)
    inside = np.interp(bounds[1:-1], edges, cumulative)
    bar_counts = np.diff(np.concatenate([[0.0], inside, [total]]))
    width = (high - low) / bars
    return (bounds[:-1] + width / 2).tolist(), [width] * bars, bar_counts.tolist()


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
        i = min(int(np.searchsorted(cumulative, target, side="left")), counts.size - 1)
        right = limits[i]
        left = limits[i - 1] if i > 0 else min(record.min, right)
        before = cumulative[i - 1] if i > 0 else 0.0
        fraction = (target - before) / counts[i] if counts[i] > 0 else 1.0
        value = left + fraction * (right - left)
        out.append(float(min(max(value, record.min), record.max)))
    return out


def padded_grid(pixels: np.ndarray, tiles: int) -> np.ndarray:
    """The picture as Visdom shows it: the grid's pictures apart, small pictures enlarged.

    ``pixels`` holds ``tiles`` pictures laid out ``GRID_COLUMNS`` per row (the Logger's grid).
    Each is enlarged by the same whole factor (``READABLE_SIDE``, ``MAX_SIDE``; never
    shrunk), then placed with ``GRID_PADDING`` pixels around it (a single picture too: the
    page draws a picture one pixel wider than its window, which then cuts off padding only).
    """
    height, width, channels = pixels.shape
    tiles = max(tiles, 1)  # records from before ``tiles`` existed
    columns = min(tiles, GRID_COLUMNS)
    rows = math.ceil(tiles / columns)
    tile_h, tile_w = height // rows, width // columns
    scale = max(1, min(READABLE_SIDE // max(tile_h, tile_w), MAX_SIDE // max(height, width)))
    step_h, step_w = tile_h * scale + GRID_PADDING, tile_w * scale + GRID_PADDING
    canvas = np.full((rows * step_h + GRID_PADDING, columns * step_w + GRID_PADDING, channels),
                     GRID_PAD_VALUE, dtype=pixels.dtype)
    for i in range(tiles):
        row, col = divmod(i, columns)
        tile = pixels[row * tile_h : (row + 1) * tile_h, col * tile_w : (col + 1) * tile_w]
        top, left = GRID_PADDING + row * step_h, GRID_PADDING + col * step_w
        canvas[top : top + tile_h * scale, left : left + tile_w * scale] = np.repeat(
            np.repeat(tile, scale, axis=0), scale, axis=1)
    return canvas


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
    return ('<div style="font-family: monospace; white-space: nowrap">'
            + "<br/>".join(lines) + "</div>")


def graph_size(structure: Sequence[tuple[str, str, int]]) -> tuple[int, int]:
    """Width and height (pixels) that show the whole module tree without scrolling (up to
    ``_TEXT_MAX_HEIGHT``; a larger model scrolls)."""
    longest = max((len(path.rsplit(".", 1)[-1]) + 4 * (path.count(".") + 1) + len(cls) + 20
                   for path, cls, _ in structure), default=20)
    width = min(max(300, longest * _TEXT_CHAR_PX + 40), 1000)
    height = min(len(structure) * _TEXT_LINE_PX + 40, _TEXT_MAX_HEIGHT)
    return width, height


def pr_points(record: PRCurve) -> tuple[list[float], list[float]]:
    """Recall and precision per threshold, without the highest thresholds where nothing is
    predicted positive: their precision is undefined (stored as 0), and drawing them adds a
    line down to (0, 0).  The same points as TensorBoard's PR CURVES tab, which trims the
    thresholds whose whole true and false positive counts are 0."""
    predicted = (np.asarray(record.true_positive_counts).astype(int)
                 + np.asarray(record.false_positive_counts).astype(int))
    end = len(predicted)
    while end > 1 and predicted[end - 1] == 0:
        end -= 1
    return (np.asarray(record.recall)[:end].tolist(),
            np.asarray(record.precision)[:end].tolist())


# --------------------------------------------------------------------------------------------
# Records -> specs


def _append(win: str, names: tuple[str, ...], items: tuple[Any, ...], title: str,
            **template: Any) -> Spec:
    template = {"layout": layout(title, "step"), "opts": {"title": title}, **template}
    return {"win": win, "mode": APPEND, "names": names, "items": items, "template": template}


def scalar_view(record: Scalar, options: dict[str, Any]) -> list[Spec]:
    win = window_id("scalar", record.tag)
    return [_append(win, (record.tag,), ((record.step, (record.value,)),), record.tag)]


def scalars_view(record: Scalars, options: dict[str, Any]) -> list[Spec]:
    win = window_id("scalars", record.tag)
    return [_append(win, (key,), ((record.step, (value,)),), record.tag)
            for key, value in record.values.items()]


def text_view(record: Text, options: dict[str, Any]) -> list[Spec]:
    template = {"type": "text", "opts": {"title": record.tag}}
    return [{"win": window_id("text", record.tag), "mode": APPEND, "names": ("text",),
             "items": (text_entry(record.step, record.text),), "template": template}]


def histogram_view(record: Histogram, options: dict[str, Any]) -> list[Spec]:
    centres, widths, counts = bin_bars(record)
    title = f"{record.tag} (step {record.step})"
    win = window_id("histogram", record.tag)
    bars = {
        "win": win,
        "data": [{"x": centres, "y": counts, "width": widths, "type": "bar",
                  "name": f"step {record.step}"}],
        "layout": layout(title, "value", "count", showlegend=False, bargap=0),
        "opts": {"title": title},
    }
    names = tuple(name for name, _ in TREND_LEVELS)
    values = bin_percentiles(record, [level for _, level in TREND_LEVELS])
    trend = _append(window_id("histogram-trend", record.tag), names,
                    ((record.step, tuple(values)),), f"{record.tag} (distribution over steps)")
    return [trend, {"win": win, "mode": WINDOW, "message": bars}]


def image_view(record: Image, options: dict[str, Any]) -> list[Spec]:
    pixels = padded_grid(record.pixels, record.tiles)
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    caption = f"{record.tag}, step {record.step}"
    win = window_id("image", record.tag)
    message = {
        "win": win,
        "data": [{"content": {"src": png_data_url(pixels), "caption": caption},
                  "type": "image"}],
        "opts": {"title": record.tag, "caption": caption,
                 "width": width + _IMAGE_EXTRA[0], "height": height + _IMAGE_EXTRA[1]},
    }
    return [{"win": win, "mode": WINDOW, "message": message}]


def embedding_view(record: Embedding, options: dict[str, Any]) -> list[Spec]:
    dims = int(options.get("embedding_dims", 2))
    points = pca_project(record.mat, dims)
    labels = [row[0] for row in record.metadata] if record.metadata else ["points"] * len(points)
    hover = ["\t".join(row) for row in record.metadata] if record.metadata else None
    kind = "scatter3d" if dims == 3 else "scatter"
    data = []
    for label in dict.fromkeys(labels):
        index = [i for i, value in enumerate(labels) if value == label]
        trace: dict[str, Any] = {
            "x": points[index, 0].tolist(), "y": points[index, 1].tolist(), "name": label,
            "type": kind, "mode": "markers", "marker": {"size": 6 if dims == 3 else 8},
        }
        if dims == 3:
            trace["z"] = points[index, 2].tolist()
        if hover is not None:
            trace["text"] = [hover[i] for i in index]
        data.append(trace)
    title = f"{record.tag} (step {record.step}, PCA {dims}-D)"
    plot = layout(title, "PC1", "PC2")
    if dims == 3:
        plot["scene"] = {"xaxis": {"title": "PC1"}, "yaxis": {"title": "PC2"},
                         "zaxis": {"title": "PC3"}}
    win = window_id("embedding", record.tag)
    message = {"win": win, "data": data, "layout": plot, "opts": {"title": title}}
    return [{"win": win, "mode": WINDOW, "message": message}]


def graph_view(record: Graph, options: dict[str, Any]) -> list[Spec]:
    win = window_id("graph", record.tag)
    width, height = graph_size(record.structure)
    message = {
        "win": win,
        "data": [{"content": graph_html(record.structure), "type": "text"}],
        "opts": {"title": f"{record.tag} (module tree)", "width": width, "height": height},
    }
    return [{"win": win, "mode": WINDOW, "message": message}]


def pr_curve_view(record: PRCurve, options: dict[str, Any]) -> list[Spec]:
    title = f"{record.tag} (AP {record.average_precision:.4f} at step {record.step})"
    name = f"step {record.step}"
    win = window_id("pr_curve", record.tag)
    plot = layout(title, "recall", "precision")
    plot["xaxis"]["range"] = [0, 1]
    plot["yaxis"]["range"] = [0, 1.05]
    message = {"win": win, "data": [line_trace(name, *pr_points(record))], "layout": plot,
               "opts": {"title": title}}
    return [{"win": win, "mode": TRACE, "names": (name,), "message": message}]


VIEWS: dict[str, Callable[[Any, dict[str, Any]], list[Spec]]] = {
    Scalar.kind: scalar_view,
    Scalars.kind: scalars_view,
    Text.kind: text_view,
    Histogram.kind: histogram_view,
    Image.kind: image_view,
    Embedding.kind: embedding_view,
    Graph.kind: graph_view,
    PRCurve.kind: pr_curve_view,
}
