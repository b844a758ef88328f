"""Pure conversions from user input to record fields.

Everything here is a function of its arguments: no I/O, no backend, no global state.  The
Logger calls these once per logging call; errors name the method and the argument so that a
user reading a traceback knows what to fix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from vizlog.errors import VizlogTypeError, VizlogValueError


def _where(method: str, arg: str) -> str:
    return f"{method}({arg}=...)"


def is_torch_tensor(value: Any) -> bool:
    """True for torch tensors, without importing torch."""
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def is_cuda(value: Any) -> bool:
    """A tensor on a CUDA device (reading it on the host would wait for the GPU)."""
    return is_torch_tensor(value) and value.is_cuda


def check_numeric_tensor(value: Any, method: str, arg: str) -> None:
    """Checks a tensor from its metadata only (no device synchronisation)."""
    if value.is_complex():
        raise VizlogTypeError(f"{_where(method, arg)}: complex tensors cannot be logged")
    if value.numel() == 0:
        raise VizlogValueError(f"{_where(method, arg)}: the tensor is empty")


def check_one_number(value: Any, method: str, arg: str) -> None:
    check_numeric_tensor(value, method, arg)
    if value.numel() != 1:
        raise VizlogValueError(
            f"{_where(method, arg)}: expected one number, got a tensor of shape "
            f"{tuple(value.shape)}"
        )


def to_numpy(value: Any, method: str, arg: str) -> np.ndarray:
    """A numeric numpy array from a tensor (any device, with grad), array, number or list."""
    if is_torch_tensor(value):
        tensor = value.detach()
        if tensor.is_complex():
            raise VizlogTypeError(f"{_where(method, arg)}: complex tensors cannot be logged")
        if tensor.dtype.is_floating_point and tensor.element_size() < 4:
            tensor = tensor.float()  # numpy has no bfloat16; float16 widened for the same path
        return tensor.cpu().numpy()
    if isinstance(value, str | bytes):
        raise VizlogTypeError(
            f"{_where(method, arg)}: expected numbers (tensor, array, number or list), "
            f"got {type(value).__name__}"
        )
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise VizlogValueError(f"{_where(method, arg)}: cannot read as an array ({exc})") from exc
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise VizlogTypeError(
            f"{_where(method, arg)}: expected numbers (tensor, array, number or list), "
            f"got {type(value).__name__} of {array.dtype}"
        )
    return array


def to_scalar(value: Any, method: str = "scalar", arg: str = "value") -> float:
    """One float from a number, a one-element tensor or array."""
    if isinstance(value, bool | int | float) and not isinstance(value, np.ndarray):
        return float(value)
    if is_torch_tensor(value):
        if value.numel() != 1:
            raise VizlogValueError(
                f"{_where(method, arg)}: expected one number, got a tensor of shape "
                f"{tuple(value.shape)}"
            )
        if value.is_complex():
            raise VizlogTypeError(f"{_where(method, arg)}: complex values cannot be logged")
        return float(value.detach().item())
    if isinstance(value, np.generic | np.ndarray):
        if value.size != 1:
            raise VizlogValueError(
                f"{_where(method, arg)}: expected one number, got an array of shape "
                f"{np.shape(value)}"
            )
        if value.dtype.kind not in "biuf":
            raise VizlogTypeError(
                f"{_where(method, arg)}: expected a number, got an array of {value.dtype}"
            )
        return float(value.reshape(()) if isinstance(value, np.ndarray) else value)
    raise VizlogTypeError(
        f"{_where(method, arg)}: expected a number (float, int, one-element tensor or array), "
        f"got {type(value).__name__}"
    )


#: steps are stored as 64-bit integers by every backend
STEP_MIN, STEP_MAX = -(2**63), 2**63 - 1


def to_step(step: Any, method: str) -> int:
    if isinstance(step, bool):
        raise VizlogTypeError(f"{_where(method, 'step')}: expected an integer, got bool")
    if isinstance(step, int):
        value = step
    elif isinstance(step, np.integer):
        value = int(step)
    elif is_torch_tensor(step) and step.numel() == 1 and not step.dtype.is_floating_point:
        value = int(step.item())
    elif isinstance(step, float | np.floating) and float(step).is_integer():
        value = int(step)
    else:
        raise VizlogTypeError(
            f"{_where(method, 'step')}: expected an integer, got {type(step).__name__} {step!r}"
        )
    if not STEP_MIN <= value <= STEP_MAX:
        raise VizlogValueError(
            f"{_where(method, 'step')}: {value} does not fit in 64 bits, as steps are stored"
        )
    return value


def check_text(text: str, method: str, arg: str) -> str:
    """Text must survive encoding as UTF-8 (files, protobufs, JSON): no lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise VizlogValueError(
            f"{_where(method, arg)}: cannot be encoded as UTF-8 ({exc.reason} at position "
            f"{exc.start})"
        ) from None
    return text


def to_walltime(walltime: Any, method: str) -> float:
    if isinstance(walltime, bool) or not isinstance(walltime, int | float | np.number):
        raise VizlogTypeError(
            f"{_where(method, 'walltime')}: expected seconds since the epoch (a number), "
            f"got {type(walltime).__name__}"
        )
    value = float(walltime)
    if not math.isfinite(value):
        raise VizlogValueError(f"{_where(method, 'walltime')}: expected a finite number")
    return value


def check_tag(tag: Any, method: str, arg: str = "tag") -> str:
    if not isinstance(tag, str):
        raise VizlogTypeError(f"{_where(method, arg)}: expected a string, got {type(tag).__name__}")
    if not tag.strip():
        raise VizlogValueError(f"{_where(method, arg)}: expected a non-empty string")
    if "\x00" in tag:
        raise VizlogValueError(f"{_where(method, arg)}: a tag cannot contain NUL characters")
    return check_text(tag, method, arg)


# --------------------------------------------------------------------------------------------
# Histograms


def _tensorflow_edges() -> np.ndarray:
    """The writers' default bins for ``bins="tensorflow"``: +-1e-12 * 1.1**k up to 1e20, and 0."""
    v = 1e-12
    buckets = []
    while v < 1e20:
        buckets.append(v)
        v *= 1.1
    positive = np.array(buckets)
    return np.concatenate([-positive[::-1], [0.0], positive])


TENSORFLOW_EDGES = _tensorflow_edges()


NUMPY_BIN_RULES = frozenset({"auto", "fd", "doane", "scott", "stone", "rice", "sturges", "sqrt"})


def check_bins(bins: Any, method: str = "histogram") -> Any:
    """``"tensorflow"`` (the writers' default edges), a numpy rule, a count or edges."""
    if isinstance(bins, str):
        if bins == "tensorflow" or bins in NUMPY_BIN_RULES:
            return bins
        raise VizlogValueError(
            f"{_where(method, 'bins')}: unknown rule {bins!r}; expected 'tensorflow' or one of "
            f"{', '.join(sorted(NUMPY_BIN_RULES))}"
        )
    if isinstance(bins, bool):
        raise VizlogTypeError(f"{_where(method, 'bins')}: expected a rule, a count or edges")
    if isinstance(bins, int | np.integer):
        if bins < 1:
            raise VizlogValueError(f"{_where(method, 'bins')}: expected at least 1 bin")
        return int(bins)
    edges = to_numpy(bins, method, "bins").astype(np.float64)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges)) or np.any(
        np.diff(edges) < 0
    ):
        raise VizlogValueError(
            f"{_where(method, 'bins')}: edges must be at least two finite, increasing numbers"
        )
    return edges


def histogram_input(
    values: Any, bins: Any, method: str = "histogram"
) -> tuple[np.ndarray, Any, int]:
    """Check ``values`` and ``bins`` and take a private copy of the values to bin later.

    Returns the copy, the checked bins, and how many values are NaN/infinite (left out).
    """
    bins = check_bins(bins, method)
    array = to_numpy(values, method, "values")
    if array.size == 0:
        raise VizlogValueError(f"{_where(method, 'values')}: cannot make a histogram of no values")
    array = np.array(array.reshape(-1), copy=True)
    dropped = 0
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        dropped = int(array.size - np.count_nonzero(np.isfinite(array)))
        if dropped == array.size:
            raise VizlogValueError(
                f"{_where(method, 'values')}: all {dropped} values are NaN or infinite; "
                "a histogram needs finite values"
            )
    return array, bins, dropped


def bin_values(array: np.ndarray, bins: Any) -> dict[str, Any]:
    """The fields of a ``Histogram`` record, binned exactly as the TensorBoard writers bin.

    Non-finite values cannot be binned: they are left out and counted in ``dropped``.
    """
    array = array.astype(np.float64, copy=False)
    finite = np.isfinite(array)
    dropped = int(array.size - np.count_nonzero(finite))
    if dropped:
        array = array[finite]
    if isinstance(bins, str) and bins == "tensorflow":
        bins = TENSORFLOW_EDGES
    counts, limits = np.histogram(array, bins=bins)
    counts, limits = _trim_support(counts, limits)
    return {
        "min": float(array.min()),
        "max": float(array.max()),
        "num": int(array.size),
        "sum": float(array.sum()),
        "sum_squares": float(array.dot(array)),
        "bucket_limits": limits.astype(np.float64),
        "bucket_counts": counts.astype(np.float64),
        "dropped": dropped,
    }


def histogram_fields(values: Any, bins: Any, method: str = "histogram") -> dict[str, Any]:
    """Check and bin at once (small inputs, and tests)."""
    array, bins, _ = histogram_input(values, bins, method)
    return bin_values(array, bins)


def _trim_support(counts: np.ndarray, limits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the bins that hold values, with one empty bin on the left (TensorBoard keeps only
    right edges, so the empty bin carries the leftmost edge).  Same as the writers'."""
    cum_counts = np.cumsum(np.greater(counts, 0))
    if cum_counts[-1] == 0:  # every value fell outside the bins
        return np.zeros(1), limits[-1:]
    start, end = np.searchsorted(cum_counts, [0, cum_counts[-1] - 1], side="right")
    start, end = int(start), int(end) + 1
    counts = counts[start - 1 : end] if start > 0 else np.concatenate([[0], counts[:end]])
    limits = limits[start : end + 1]
    return counts, limits


# --------------------------------------------------------------------------------------------
# Images

_LAYOUTS = {2: ("HW",), 3: ("CHW", "HWC"), 4: ("NCHW", "NHWC")}
_CHANNELS = (1, 3, 4)


def _infer_layout(
    shape: tuple[int, ...], method: str, arg: str, ambiguous: str | None = None
) -> str:
    if len(shape) == 2:
        return "HW"
    if len(shape) == 3:
        first, last = shape[0] in _CHANNELS, shape[2] in _CHANNELS
        candidates = [f for f, ok in (("CHW", first), ("HWC", last)) if ok]
    elif len(shape) == 4:
        first, last = shape[1] in _CHANNELS, shape[3] in _CHANNELS
        candidates = [f for f, ok in (("NCHW", first), ("NHWC", last)) if ok]
    else:
        raise VizlogValueError(
            f"{_where(method, arg)}: expected an image of shape HW, CHW, HWC or a batch NCHW/NHWC, "
            f"got shape {shape}"
        )
    if len(candidates) == 1:
        return candidates[0]
    if candidates and ambiguous in candidates:
        return ambiguous
    if not candidates:
        raise VizlogValueError(
            f"{_where(method, arg)}: shape {shape} fits no image layout (channels must be 1, 3 or "
            f"4); pass dataformats= (one of {', '.join(_LAYOUTS[len(shape)])})"
        )
    raise VizlogValueError(
        f"{_where(method, arg)}: shape {shape} is ambiguous ({' or '.join(candidates)}); "
        "pass dataformats= to say which"
    )


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """uint8 stays; floats are 0-1 (clipped, scaled, rounded, NaN -> 0); bool is 0/255;
    other integers are 0-255 (clipped)."""
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind == "b":
        return array.astype(np.uint8) * 255
    if array.dtype.kind == "f":
        scaled = np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        return np.rint(np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)
    return np.clip(array, 0, 255).astype(np.uint8)


def image_batch(
    img: Any, dataformats: str | None, method: str, arg: str, ambiguous: str | None = None
) -> np.ndarray:
    """uint8 NHWC with 3 or 4 channels, from any accepted image or batch layout.

    ``ambiguous`` is the layout assumed when the shape fits two (for arguments that have no
    ``dataformats`` of their own); without it an ambiguous shape is an error.
    """
    array = to_numpy(img, method, arg)
    if dataformats is None:
        layout = _infer_layout(array.shape, method, arg, ambiguous)
    else:
        if not isinstance(dataformats, str):
            raise VizlogTypeError(f"{_where(method, 'dataformats')}: expected a string like 'CHW'")
        layout = dataformats.upper()
        if (len(layout) != array.ndim or len(set(layout)) != len(layout)
                or not set(layout) <= set("NCHW") or not set("HW") <= set(layout)):
            raise VizlogValueError(
                f"{_where(method, 'dataformats')}: {dataformats!r} does not fit an image of shape "
                f"{array.shape}; expected {array.ndim} of the letters N, C, H, W with H and W "
                f"(e.g. {', '.join(_LAYOUTS.get(array.ndim, ('HW',)))})"
            )
    for axis in "NC":  # add the missing batch / channel axes as length 1
        if axis not in layout:
            array = array[np.newaxis] if axis == "N" else array[..., np.newaxis]
            layout = axis + layout if axis == "N" else layout + axis
    array = np.transpose(array, [layout.index(c) for c in "NHWC"])
    if array.shape[3] not in _CHANNELS:
        raise VizlogValueError(
            f"{_where(method, arg)}: {array.shape[3]} channels; expected 1 (grey), 3 (RGB) or "
            "4 (RGBA)"
        )
    if 0 in array.shape:
        raise VizlogValueError(f"{_where(method, arg)}: the image is empty (shape {array.shape})")
    array = _to_uint8(array)
    if array.shape[3] == 1:
        array = np.repeat(array, 3, axis=3)
    return np.ascontiguousarray(array)


def make_grid(batch: np.ndarray, ncols: int = 8) -> np.ndarray:
    """NHWC -> one HWC picture, images left to right, ``ncols`` per row (the writers' grid)."""
    n, h, w, c = batch.shape
    if n == 1:
        return batch[0]
    ncols = min(n, ncols)
    nrows = math.ceil(n / ncols)
    canvas = np.zeros((nrows * h, ncols * w, c), dtype=batch.dtype)
    for i in range(n):
        row, col = divmod(i, ncols)
        canvas[row * h : (row + 1) * h, col * w : (col + 1) * w] = batch[i]
    return canvas


def image_pixels(img: Any, dataformats: str | None, method: str = "image") -> np.ndarray:
    """One uint8 HWC picture; a batch becomes a grid."""
    return make_grid(image_batch(img, dataformats, method, "img"))


# --------------------------------------------------------------------------------------------
# PR curves


def pr_curve_fields(
    labels: Any, predictions: Any, num_thresholds: Any, weights: Any, method: str = "pr_curve"
) -> dict[str, Any]:
    """Counts per threshold, computed once, as the writers' ``compute_curve`` does."""
    if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int | np.integer):
        raise VizlogTypeError(f"{_where(method, 'num_thresholds')}: expected an integer")
    num_thresholds = int(num_thresholds)
    if num_thresholds < 2:
        raise VizlogValueError(f"{_where(method, 'num_thresholds')}: expected at least 2")
    label_array = to_numpy(labels, method, "labels").reshape(-1).astype(np.float64)
    pred_array = to_numpy(predictions, method, "predictions").reshape(-1).astype(np.float64)
    if label_array.size != pred_array.size:
        raise VizlogValueError(
            f"{method}: labels and predictions must have the same length, got "
            f"{label_array.size} labels and {pred_array.size} predictions"
        )
    if pred_array.size == 0:
        raise VizlogValueError(f"{_where(method, 'predictions')}: no predictions")
    if not np.all((pred_array >= 0.0) & (pred_array <= 1.0)):
        bad = pred_array[~((pred_array >= 0.0) & (pred_array <= 1.0))][0]
        raise VizlogValueError(
            f"{_where(method, 'predictions')}: expected probabilities in [0, 1], found {bad}"
        )
    if not np.all((label_array == 0.0) | (label_array == 1.0)):
        bad = label_array[~((label_array == 0.0) | (label_array == 1.0))][0]
        raise VizlogValueError(f"{_where(method, 'labels')}: expected 0/1 or bool, found {bad}")
    if weights is None:
        weight_array: np.ndarray | float = 1.0
    else:
        weight_array = to_numpy(weights, method, "weights").reshape(-1).astype(np.float64)
        if weight_array.size not in (1, label_array.size):
            raise VizlogValueError(
                f"{_where(method, 'weights')}: expected one weight per label "
                f"({label_array.size}), got {weight_array.size}"
            )
        if not np.all(np.isfinite(weight_array)) or np.any(weight_array < 0):
            raise VizlogValueError(f"{_where(method, 'weights')}: expected finite weights >= 0")
    minimum_count = 1e-7
    bucket_indices = np.int32(np.floor(pred_array * (num_thresholds - 1)))
    histogram_range = (0, num_thresholds - 1)
    tp_buckets, _ = np.histogram(
        bucket_indices, bins=num_thresholds, range=histogram_range,
        weights=label_array * weight_array,
    )
    fp_buckets, _ = np.histogram(
        bucket_indices, bins=num_thresholds, range=histogram_range,
        weights=(1.0 - label_array) * weight_array,
    )
    tp = np.cumsum(tp_buckets[::-1])[::-1]
    fp = np.cumsum(fp_buckets[::-1])[::-1]
    tn = fp[0] - fp
    fn = tp[0] - tp
    return {
        "num_thresholds": num_thresholds,
        "true_positive_counts": tp,
        "false_positive_counts": fp,
        "true_negative_counts": tn,
        "false_negative_counts": fn,
        "precision": tp / np.maximum(minimum_count, tp + fp),
        "recall": tp / np.maximum(minimum_count, tp + fn),
    }


# --------------------------------------------------------------------------------------------
# Embeddings


def _metadata_rows(
    metadata: Any, rows: int, header: Any, method: str
) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...] | None]:
    if is_torch_tensor(metadata) or isinstance(metadata, np.ndarray):
        metadata = to_numpy(metadata, method, "metadata").tolist()
    if isinstance(metadata, str) or not isinstance(metadata, Sequence):
        raise VizlogTypeError(
            f"{_where(method, 'metadata')}: expected a list with one label (or one row of labels) "
            f"per row of mat, got {type(metadata).__name__}"
        )
    if len(metadata) != rows:
        raise VizlogValueError(
            f"{_where(method, 'metadata')}: {len(metadata)} labels for {rows} rows of mat; "
            "expected one per row"
        )
    header_row: tuple[str, ...] | None = None
    if header is not None:
        if isinstance(header, str) or not isinstance(header, Sequence):
            raise VizlogTypeError(
                f"{_where(method, 'metadata_header')}: expected a list of column names"
            )
        header_row = tuple(str(h) for h in header)
    out = []
    for i, item in enumerate(metadata):
        if isinstance(item, Sequence) and not isinstance(item, str):
            row = tuple(str(v) for v in item)
        else:
            row = (str(item),)
        width = len(header_row) if header_row is not None else (len(out[0]) if out else len(row))
        if len(row) != width:
            raise VizlogValueError(
                f"{_where(method, 'metadata')}: row {i} has {len(row)} columns, expected {width}"
            )
        if any("\t" in v or "\n" in v for v in row):
            raise VizlogValueError(
                f"{_where(method, 'metadata')}: row {i} contains a tab or newline"
            )
        out.append(row)
    if header_row is None and out and len(out[0]) > 1:
        raise VizlogValueError(
            f"{_where(method, 'metadata_header')}: metadata has {len(out[0])} columns; "
            "name them with metadata_header"
        )
    return tuple(out), header_row


def embedding_fields(
    mat: Any, metadata: Any, label_img: Any, metadata_header: Any, method: str = "embedding"
) -> dict[str, Any]:
    array = to_numpy(mat, method, "mat")
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise VizlogValueError(
            f"{_where(method, 'mat')}: expected a 2-D matrix (points x features), got shape "
            f"{array.shape}"
        )
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise VizlogValueError(f"{_where(method, 'mat')}: contains NaN or infinite values")
    rows = array.shape[0]
    meta, header = (None, None)
    if metadata is not None:
        meta, header = _metadata_rows(metadata, rows, metadata_header, method)
    elif metadata_header is not None:
        raise VizlogValueError(f"{_where(method, 'metadata_header')}: given without metadata")
    images = None
    if label_img is not None:
        if _ndim(label_img) != 4:
            raise VizlogValueError(
                f"{_where(method, 'label_img')}: expected a batch of images (NCHW), one per row "
                "of mat"
            )
        images = image_batch(label_img, None, method, "label_img", ambiguous="NCHW")
        if images.shape[0] != rows:
            raise VizlogValueError(
                f"{_where(method, 'label_img')}: {images.shape[0]} images for {rows} rows of mat"
            )
    return {"mat": array, "metadata": meta, "metadata_header": header, "label_img": images}


def _ndim(value: Any) -> int:
    return len(value.shape) if hasattr(value, "shape") else np.ndim(value)


def scalar_dict(values: Any, method: str = "scalars") -> dict[str, float]:
    if not isinstance(values, Mapping):
        raise VizlogTypeError(
            f"{_where(method, 'tag_value_dict')}: expected a dict of name -> number, got "
            f"{type(values).__name__}"
        )
    if not values:
        raise VizlogValueError(f"{_where(method, 'tag_value_dict')}: the dict is empty")
    out = {}
    for key, value in values.items():
        check_tag(key, method, "tag_value_dict")
        out[key] = to_scalar(value, method, f"tag_value_dict[{key!r}]")
    return out
