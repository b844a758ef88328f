"""TensorBoard summaries of the concepts whose writer functions need a package vizlog does
not (``soundfile`` for audio in tensorboardX, ``moviepy`` for video in both), or that the
writers cannot make at all (hyperparameter domains in tensorboardX, ``new_style`` scalars in
tensorboardX, display names in torch).

Each is built from the chosen library's own protobuf classes, in the same form its writer
would produce, so the event files hold what that writer would write.
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType
from typing import Any, cast

from vizlog.concepts.audio import wav_bytes
from vizlog.records import Audio, HParams, Scalar, Video


def audio(summary: ModuleType, r: Audio) -> Any:
    """``Summary.Audio`` holding a 16-bit WAV (the writers' form; stereo as tensorboardX)."""
    s = summary.Summary
    return s(value=[s.Value(tag=r.tag, audio=s.Audio(
        sample_rate=r.sample_rate, num_channels=int(r.samples.shape[1]),
        length_frames=int(r.samples.shape[0]),
        encoded_audio_string=wav_bytes(r.samples, r.sample_rate), content_type="audio/wav",
    ))])


def video(summary: ModuleType, r: Video) -> Any:
    """``Summary.Image`` holding the animated GIF, as the writers' ``make_video`` makes it."""
    s = summary.Summary
    _, height, width, channels = r.frames.shape
    return s(value=[s.Value(tag=r.tag, image=s.Image(
        height=int(height), width=int(width), colorspace=int(channels),
        encoded_image_string=r.gif,
    ))])


def styled_scalar(summary: ModuleType, r: Scalar) -> Any:
    """A scalar as torch writes it with ``new_style``/``double_precision`` (a tensor of the
    ``scalars`` plugin), with tensorboardX's ``display_name``/``summary_description``."""
    precision, display_name, description = cast(tuple[str, str, str], r.style)
    s = summary.Summary
    metadata = summary.SummaryMetadata(display_name=display_name,
                                       summary_description=description)
    if not precision:
        return s(value=[s.Value(tag=r.tag, simple_value=r.value, metadata=metadata)])
    metadata.plugin_data.plugin_name = "scalars"
    tensor = (summary.TensorProto(double_val=[r.value], dtype="DT_DOUBLE")
              if precision == "double" else
              summary.TensorProto(float_val=[r.value], dtype="DT_FLOAT"))
    return s(value=[s.Value(tag=r.tag, tensor=tensor, metadata=metadata)])


def hparams(summary: ModuleType, r: HParams) -> tuple[Any, Any, Any]:
    """The writer's experiment, session-start and session-end summaries; the domains of
    discrete hyperparameters are added where the library cannot take them (tensorboardX)."""
    metrics = dict.fromkeys(r.metrics)
    if "hparam_domain_discrete" in inspect.signature(summary.hparams).parameters:
        return summary.hparams(r.hparams, metrics, r.domains or None)
    exp, ssi, sei = summary.hparams(r.hparams, metrics)
    if r.domains:
        package = summary.__name__.rsplit(".", 1)[0]
        plugin_data = importlib.import_module(package + ".proto.plugin_hparams_pb2")
        from google.protobuf import struct_pb2

        content = plugin_data.HParamsPluginData.FromString(
            exp.value[0].metadata.plugin_data.content)
        for info in content.experiment.hparam_infos:
            for value in r.domains.get(info.name, ()):
                info.domain_discrete.values.append(_struct_value(struct_pb2, value))
        exp.value[0].metadata.plugin_data.content = content.SerializeToString()
    return exp, ssi, sei


def _struct_value(struct_pb2: Any, value: bool | str | float) -> Any:
    if isinstance(value, bool):
        return struct_pb2.Value(bool_value=value)
    if isinstance(value, str):
        return struct_pb2.Value(string_value=value)
    return struct_pb2.Value(number_value=value)
