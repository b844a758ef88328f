"""Records: the one format every backend, the spool and ``vizlog replay`` understand.

The Logger builds exactly one record per call, after all validation and conversion, so a
backend never sees user input: it only translates a record into its own API.  Records are
frozen so that one instance can be handed to several backends (fan-out) and to background
threads without copies.  ``to_json``/``from_json`` give the JSON-lines form of the spool.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import zlib
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from vizlog.concepts.edges import TENSORFLOW_EDGES, edge_slice


@dataclass(frozen=True, slots=True)
class Record:
    """Fields every record has: what it is, where it goes, and when."""

    tag: str
    step: int
    walltime: float

    kind: ClassVar[str] = "record"


@dataclass(frozen=True, slots=True)
class Scalar(Record):
    """One number.  ``style`` is empty for the usual event (a float32 ``simple_value``);
    the drop-in's writer options set it to ``(precision, display_name, description)``,
    ``precision`` being ``""``, ``"float"`` (torch's ``new_style``) or ``"double"``."""

    value: float
    style: tuple[str, str, str] | tuple[()] = ()
    kind: ClassVar[str] = "scalar"


@dataclass(frozen=True, slots=True)
class Scalars(Record):
    """Several named values of one chart (``tag`` is the writers' ``main_tag``)."""

    values: dict[str, float]
    kind: ClassVar[str] = "scalars"


@dataclass(frozen=True, slots=True)
class Histogram(Record):
    """A histogram already binned the TensorBoard way (right edges, one empty bin on the left).

    ``bucket_limits[i]`` is the right edge of bin ``i``; the left edge of bin 0 is ``min``
    at most.  Non-finite values were dropped before binning and are counted in ``dropped``.
    """

    min: float
    max: float
    num: int
    sum: float
    sum_squares: float
    bucket_limits: np.ndarray
    bucket_counts: np.ndarray
    dropped: int = 0
    kind: ClassVar[str] = "histogram"


@dataclass(frozen=True, slots=True)
class Image(Record):
    """One picture as uint8 pixels in HWC layout, 3 (RGB) or 4 (RGBA) channels.

    A batch has already been arranged into a grid, so backends show exactly this; ``tiles``
    says how many pictures the grid holds (``GRID_COLUMNS`` per row), so that a viewer can
    draw them apart.
    """

    pixels: np.ndarray
    tiles: int = 1
    kind: ClassVar[str] = "image"


@dataclass(frozen=True, slots=True)
class Embedding(Record):
    """Points for the projector.

    ``mat`` is float32 (N, D).  ``metadata`` has one row (a tuple of strings) per point;
    with several columns ``metadata_header`` names them.  ``label_img`` is uint8 NHWC.
    """

    mat: np.ndarray
    metadata: tuple[tuple[str, ...], ...] | None = None
    metadata_header: tuple[str, ...] | None = None
    label_img: np.ndarray | None = None
    kind: ClassVar[str] = "embedding"


@dataclass(frozen=True, slots=True)
class Graph(Record):
    """A model graph traced once: a serialised TensorBoard ``GraphDef`` and a readable tree.

    ``structure`` is one ``(path, class name, parameter count)`` row per module, the form
    backends without a graph viewer draw.
    """

    graph_def: bytes
    structure: tuple[tuple[str, str, int], ...]
    kind: ClassVar[str] = "graph"


@dataclass(frozen=True, slots=True)
class PRCurve(Record):
    """A precision-recall curve reduced to counts per threshold (the writers' raw form)."""

    num_thresholds: int
    true_positive_counts: np.ndarray
    false_positive_counts: np.ndarray
    true_negative_counts: np.ndarray
    false_negative_counts: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    kind: ClassVar[str] = "pr_curve"

    @property
    def average_precision(self) -> float:
        """Area under the step curve, the usual AP summary."""
        recall = self.recall[::-1]
        precision = self.precision[::-1]
        return float(np.sum(np.diff(recall, prepend=0.0) * precision))


@dataclass(frozen=True, slots=True)
class Text(Record):
    text: str
    kind: ClassVar[str] = "text"


@dataclass(frozen=True, slots=True)
class Figure(Image):
    """A matplotlib figure rendered once to pixels (uint8 HWC RGB; a list of them as a grid)."""

    kind: ClassVar[str] = "figure"


@dataclass(frozen=True, slots=True)
class HParams(Record):
    """Hyperparameters of a run and the metrics to compare runs by.

    ``hparams`` values are bool, str or float.  ``metrics`` maps each metric tag to the value
    given with it (None: the tag's own scalar series says).  ``run`` is None for the run
    itself, else the sub-run (a relative path under the logdir) the writers would make.
    ``domains`` lists the allowed values of some hyperparameters.
    """

    hparams: dict[str, bool | str | float]
    metrics: dict[str, float | None]
    run: str | None = None
    domains: dict[str, tuple[bool | str | float, ...]] = dataclasses.field(default_factory=dict)
    kind: ClassVar[str] = "hparams"


@dataclass(frozen=True, slots=True)
class Audio(Record):
    """Sound: float32 samples in [-1, 1], shape (frames, channels), 1 or 2 channels."""

    samples: np.ndarray
    sample_rate: int
    kind: ClassVar[str] = "audio"


@dataclass(frozen=True, slots=True)
class Video(Record):
    """Frames as uint8 (T, H, W, 3) (a batch already tiled) and the animated GIF made of
    them once, shared by every backend."""

    frames: np.ndarray
    fps: float
    gif: bytes
    kind: ClassVar[str] = "video"


@dataclass(frozen=True, slots=True)
class Mesh(Record):
    """A mesh or point cloud: float32 vertices (B, N, 3), uint8 colors (B, N, 3), int32
    faces (B, F, 3), and the three.js configuration as JSON."""

    vertices: np.ndarray
    colors: np.ndarray | None = None
    faces: np.ndarray | None = None
    config: str = "{}"
    kind: ClassVar[str] = "mesh"


@dataclass(frozen=True, slots=True)
class CustomScalars(Record):
    """A layout of charts: ``(category, ((title, "Multiline" or "Margin", (tags...)), ...))``
    per category, tags being regular expressions (Multiline) or value/lower/upper (Margin)."""

    layout: tuple[tuple[str, tuple[tuple[str, str, tuple[str, ...]], ...]], ...]
    kind: ClassVar[str] = "custom_scalars"


@dataclass(frozen=True, slots=True)
class TensorBoardEvent(Record):
    """A TensorBoard ``Event`` protobuf built by the caller, serialised with its step and
    wall time.  TensorBoard backends write it as it is; the others show ``note``."""

    event: bytes
    note: str
    kind: ClassVar[str] = "tensorboard_event"


RECORD_TYPES: dict[str, type[Record]] = {
    cls.kind: cls
    for cls in (Scalar, Scalars, Histogram, Image, Embedding, Graph, PRCurve, Text, Figure,
                HParams, Audio, Video, Mesh, CustomScalars, TensorBoardEvent)
}


#: small arrays (histogram bins, PR curves) are zlib-compressed when that saves at least a
#: tenth; large ones (images, embeddings) are not tried: their bytes seldom compress, and
#: trying costs more time than the rest of the encoding
_COMPRESS_UP_TO = 64 * 1024
_WORTH_COMPRESSING = 0.9


def _encode_array(value: np.ndarray) -> dict[str, Any]:
    """An array as its raw bytes in base64: 4/3 of its size, against 4 to 5 times as JSON
    numbers, and encoded without a Python object per element.  The dtype string carries the
    byte order, so a line reads back anywhere."""
    raw = value.tobytes()
    packed = zlib.compress(raw, 1) if len(raw) <= _COMPRESS_UP_TO else raw
    compressed = len(packed) < _WORTH_COMPRESSING * len(raw)
    return {"__array__": base64.b64encode(packed if compressed else raw).decode("ascii"),
            "dtype": value.dtype.str, "shape": value.shape, "zlib": compressed}


def _decode_array(value: dict[str, Any]) -> np.ndarray:
    data = base64.b64decode(value["__array__"])
    if value.get("zlib"):
        data = zlib.decompress(data)
    array = np.frombuffer(bytearray(data), dtype=value["dtype"]).reshape(value["shape"])
    return array.astype(value["as"]) if "as" in value else array


def _histogram_payload(record: Histogram) -> dict[str, Any]:
    """A histogram's fields, its arrays small: limits that are a slice of the default edges
    (nearly always) as that slice's bounds, and whole-number counts as the smallest unsigned
    integers that hold them (a float64 again when read back, bit for bit)."""
    payload = {name: getattr(record, name) for name in _FIELD_NAMES[Histogram]}
    bounds = edge_slice(record.bucket_limits)
    payload["bucket_limits"] = ({"__edges__": list(bounds)} if bounds is not None
                                else _encode_array(record.bucket_limits))
    counts = record.bucket_counts
    peak = counts.max(initial=0.0)
    if counts.dtype == np.float64 and counts.min(initial=0.0) >= 0 and peak < 2**53:
        narrow = counts.astype(np.uint32 if peak < 2**32 else np.uint64)
        if np.array_equal(narrow, counts):
            payload["bucket_counts"] = dict(_encode_array(narrow), **{"as": "<f8"})
            return payload
    payload["bucket_counts"] = _encode_array(counts)
    return payload


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode("ascii")}
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "__array__" in value:
            return _decode_array(value)
        if "__edges__" in value:
            start, stop = value["__edges__"]
            return TENSORFLOW_EDGES[start:stop].copy()
        if "__ndarray__" in value:  # spool lines written before arrays were stored as bytes
            array = np.asarray(value["__ndarray__"], dtype=value["dtype"])
            return array.reshape(value["shape"])
        if "__bytes__" in value:
            return base64.b64decode(value["__bytes__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    return value


_FIELD_NAMES: dict[type[Record], tuple[str, ...]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in RECORD_TYPES.values()
}


def to_json(record: Record) -> str:
    """One line of JSON that ``from_json`` turns back into an equal record."""
    if type(record) is Scalar and not record.style:  # the bulk of a spool: no dispatch
        payload = {"tag": record.tag, "step": record.step, "walltime": record.walltime,
                   "value": record.value}
    elif type(record) is Histogram:
        payload = _histogram_payload(record)
    else:
        payload = {name: _encode(getattr(record, name)) for name in _FIELD_NAMES[type(record)]}
    payload["kind"] = record.kind
    return json.dumps(payload, separators=(",", ":"), allow_nan=True)


def from_json(line: str) -> Record:
    payload = json.loads(line)
    cls = RECORD_TYPES[payload.pop("kind")]
    return cls(**{k: _decode(v) for k, v in payload.items()})


__all__ = [
    "Record",
    "Scalar",
    "Scalars",
    "Histogram",
    "Image",
    "Embedding",
    "Graph",
    "PRCurve",
    "Text",
    "Figure",
    "HParams",
    "Audio",
    "Video",
    "Mesh",
    "CustomScalars",
    "TensorBoardEvent",
    "RECORD_TYPES",
    "to_json",
    "from_json",
]
