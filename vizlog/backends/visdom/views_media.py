"""How the media concepts look in Visdom: pure functions from a record to window specs.

Each spec is a dict of ``payloads.Op`` fields (``win``, ``mode`` and either ``message`` for a
window shown whole, or ``names``/``items``/``template`` for points appended).  The media are
encoded here (WAV, GIF, PNG), so neither scipy nor PyAV (which the Visdom client wants for
``audio`` and ``video``) is needed; the HTML is what the client's own ``audio``/``video``
send, with a GIF where it would send MP4.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from typing import Any

import numpy as np

from vizlog.concepts.audio import wav_bytes
from vizlog.records import (
    Audio,
    CustomScalars,
    Figure,
    HParams,
    Mesh,
    Record,
    TensorBoardEvent,
    Video,
)

Spec = dict[str, Any]


def _data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _caption(record: Record) -> str:
    return f"{record.tag}, step {record.step}"


def _html_window(kind: str, record: Record, content: str, title: str,
                 **opts: Any) -> list[Spec]:
    win = f"{kind}:{record.tag}"
    message = {"win": win, "data": [{"content": content, "type": "text"}],
               "opts": {"title": title, **opts}}
    return [{"win": win, "mode": "window", "message": message}]


def figure_view(record: Figure, options: dict[str, Any]) -> list[Spec]:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(record.pixels)).save(buffer, format="PNG")
    height, width = (int(n) for n in record.pixels.shape[:2])
    win = f"figure:{record.tag}"
    message = {
        "win": win,
        "data": [{"content": {"src": _data_url("image/png", buffer.getvalue()),
                              "caption": _caption(record)}, "type": "image"}],
        "opts": {"title": record.tag, "caption": _caption(record), "width": width,
                 "height": height},
    }
    return [{"win": win, "mode": "window", "message": message}]


def audio_view(record: Audio, options: dict[str, Any]) -> list[Spec]:
    wav = wav_bytes(record.samples, record.sample_rate)
    content = (f'<audio controls><source type="audio/wav" src="{_data_url("audio/wav", wav)}">'
               f"</audio><br/>{html.escape(_caption(record))}")
    return _html_window("audio", record, content, record.tag, height=110, width=330)


def video_view(record: Video, options: dict[str, Any]) -> list[Spec]:
    _, height, width, _ = record.frames.shape
    content = (f'<img src="{_data_url("image/gif", record.gif)}" '
               f'alt="{html.escape(record.tag)}"/><br/>{html.escape(_caption(record))}')
    return _html_window("video", record, content, record.tag,
                        width=max(int(width) + 40, 200), height=int(height) + 90)


def mesh_view(record: Mesh, options: dict[str, Any]) -> list[Spec]:
    """The first mesh of the batch: triangles (plotly ``mesh3d``) or, without faces, a point
    cloud; vertex colours kept."""
    points = record.vertices[0]
    trace: dict[str, Any] = {
        "x": points[:, 0].tolist(), "y": points[:, 1].tolist(), "z": points[:, 2].tolist(),
        "name": record.tag,
    }
    colours = None
    if record.colors is not None:
        colours = [f"rgb({r},{g},{b})" for r, g, b in record.colors[0].tolist()]
    if record.faces is not None:
        faces = record.faces[0]
        trace.update(type="mesh3d", i=faces[:, 0].tolist(), j=faces[:, 1].tolist(),
                     k=faces[:, 2].tolist())
        if colours is not None:
            trace["vertexcolor"] = colours
    else:
        trace.update(type="scatter3d", mode="markers", marker={"size": 3})
        if colours is not None:
            trace["marker"]["color"] = colours
    title = f"{record.tag} (step {record.step})"
    win = f"mesh:{record.tag}"
    layout = {"title": title, "margin": {"l": 0, "r": 0, "t": 40, "b": 0}, "showlegend": False}
    message = {"win": win, "data": [trace], "layout": layout, "opts": {"title": title}}
    return [{"win": win, "mode": "window", "message": message}]


def _rows(pairs: list[tuple[str, Any]]) -> str:
    return "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(_shown(v))}</td></tr>"
                   for k, v in pairs)


def _shown(value: Any) -> str:
    if value is None:
        return "(its own scalar series)"
    return f"{value:g}" if isinstance(value, float) else str(value)


def hparams_view(record: HParams, options: dict[str, Any]) -> list[Spec]:
    """A table: hyperparameters, then metrics with the values given with them."""
    table = ('<table style="font-family: monospace">'
             '<tr><th colspan="2">hyperparameters</th></tr>'
             + _rows(sorted(record.hparams.items()))
             + '<tr><th colspan="2">metrics</th></tr>'
             + _rows(list(record.metrics.items())) + "</table>")
    title = "hparams" if record.run is None else f"hparams: {record.run}"
    return _html_window("hparams", record, table, title)


def custom_scalars_view(record: CustomScalars, options: dict[str, Any]) -> list[Spec]:
    """The layout, as a list of charts and the tags each draws (Visdom shows every scalar
    tag in its own window)."""
    lines = [f"<b>{html.escape(category)}</b> / {html.escape(title)} ({kind}): "
             + ", ".join(html.escape(t) for t in tags)
             for category, charts in record.layout for title, kind, tags in charts]
    return _html_window("custom_scalars", record, "<br/>".join(lines), "custom scalars")


def tensorboard_event_view(record: TensorBoardEvent, options: dict[str, Any]) -> list[Spec]:
    """One line per event, appended: what it held (its bytes are for TensorBoard only)."""
    item = f"<b>step {record.step}</b>: {html.escape(record.note)}"
    return [{"win": f"tensorboard:{record.tag}", "mode": "append", "names": ("text",),
             "items": (item,), "template": {"type": "text", "opts": {"title": record.tag}}}]


VIEWS: dict[str, Callable[[Any, dict[str, Any]], list[Spec]]] = {
    Figure.kind: figure_view,
    Audio.kind: audio_view,
    Video.kind: video_view,
    Mesh.kind: mesh_view,
    HParams.kind: hparams_view,
    CustomScalars.kind: custom_scalars_view,
    TensorBoardEvent.kind: tensorboard_event_view,
}
