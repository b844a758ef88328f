"""TensorBoard ``Event`` and ``Summary`` protobufs built by the caller (the drop-in's
``file_writer``, ``add_tensor``, ONNX graphs, or code that builds its own summaries).

They are checked and serialised once, with their step and wall time; TensorBoard backends
write the bytes as they are, the others show a one-line description.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

from vizlog.concepts.common import where
from vizlog.errors import VizlogTypeError

#: the two messages, as tensorboard's and tensorboardX's copies of the protos name them
_KINDS = {f"{package}.{name}": name for package in ("tensorboard", "tensorboardX")
          for name in ("Event", "Summary")}


def event_class(message: Any) -> Any:
    """The ``Event`` class of the library that built ``message`` (tensorboard's or
    tensorboardX's copy of the protos: the bytes are the same)."""
    package = type(message).__module__.rsplit(".", 1)[0]
    return importlib.import_module(package + ".event_pb2").Event


def _describe_value(value: Any) -> str:
    what = value.WhichOneof("value") or "metadata"
    if what == "simple_value":
        return f"{value.tag} = {value.simple_value:g}"
    plugin = value.metadata.plugin_data.plugin_name
    return f"{value.tag} ({plugin or what})"


def event_fields(event: Any, step: int | None, walltime: float | None,
                 method: str = "tensorboard_event") -> dict[str, Any]:
    """``{"event": bytes, "step", "walltime", "tag", "note"}``; ``step``/``walltime`` None keep
    the event's own (a Summary gets step 0 and the time now, as the writers give it)."""
    full_name = getattr(getattr(event, "DESCRIPTOR", None), "full_name", None)
    if full_name not in _KINDS:
        raise VizlogTypeError(
            f"{where(method, 'event')}: expected a TensorBoard Event or Summary protobuf, got "
            f"{type(event).__name__}"
        )
    if _KINDS[full_name] == "Summary":
        message = event_class(event)(summary=event)
    else:
        message = type(event)()
        message.CopyFrom(event)
    if step is not None:
        message.step = step
    message.wall_time = walltime if walltime is not None else (message.wall_time or time.time())
    what = message.WhichOneof("what") or "event"
    if what == "summary":
        values = list(message.summary.value)
        tag = values[0].tag if values and values[0].tag else "summary"
        note = "; ".join(_describe_value(v) for v in values) or "empty summary"
    else:
        tag, note = what, f"TensorBoard {what.replace('_', ' ')} event"
    return {"event": message.SerializeToString(), "step": int(message.step),
            "walltime": float(message.wall_time), "tag": tag, "note": note}
