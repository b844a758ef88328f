"""Histograms: bins checked once, values binned the way the TensorBoard writers bin them.

The same edges and trimming serve the CPU path (numpy, here) and the device path
(``bin_on_device``), so a histogram looks the same wherever it was binned.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from vizlog.concepts import binning
from vizlog.concepts.common import to_numpy, where
from vizlog.concepts.device import to_host_async
from vizlog.concepts.edges import TENSORFLOW_EDGES
from vizlog.errors import VizlogTypeError, VizlogValueError

NUMPY_BIN_RULES = frozenset({"auto", "fd", "doane", "scott", "stone", "rice", "sturges", "sqrt"})


#: more bins than this is refused at the call: it would cost memory and time for a chart no
#: one can read (TensorBoard shows about 30 buckets per histogram)
MAX_BINS = 100_000


def check_bins(bins: Any, method: str = "histogram") -> Any:
    """``"tensorflow"`` (the writers' default edges), a numpy rule, a count or edges."""
    if isinstance(bins, str):
        if bins == "tensorflow" or bins in NUMPY_BIN_RULES:
            return bins
        raise VizlogValueError(
            f"{where(method, 'bins')}: unknown rule {bins!r}; expected 'tensorflow' or one of "
            f"{', '.join(sorted(NUMPY_BIN_RULES))}"
        )
    if isinstance(bins, bool):
        raise VizlogTypeError(f"{where(method, 'bins')}: expected a rule, a count or edges")
    if isinstance(bins, int | np.integer):
        if not 1 <= bins <= MAX_BINS:
            raise VizlogValueError(
                f"{where(method, 'bins')}: expected 1 to {MAX_BINS:,} bins, got {bins}"
            )
        return int(bins)
    edges = to_numpy(bins, method, "bins").astype(np.float64)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges)) or np.any(
        np.diff(edges) < 0
    ):
        raise VizlogValueError(
            f"{where(method, 'bins')}: edges must be at least two finite, increasing numbers"
        )
    if edges.size > MAX_BINS + 1:
        raise VizlogValueError(
            f"{where(method, 'bins')}: {edges.size - 1:,} bins; at most {MAX_BINS:,} are allowed"
        )
    return np.array(edges, copy=True)


def check_bins_for(array: np.ndarray, bins: Any, method: str = "histogram") -> None:
    """A count or a numpy rule checked against this data before any bin exists: a rule that
    would need more than ``MAX_BINS`` bins, or a range that cannot be cut into bins of finite
    width, is refused here (numpy would allocate gigabytes, or fail later)."""
    if isinstance(bins, np.ndarray) or bins == "tensorflow":
        return
    finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
    finite = finite.astype(np.float64, copy=False)
    low, high = float(finite.min()), float(finite.max())
    if isinstance(bins, str):
        count = _rule_bin_count(finite, bins, low, high, method)
    else:
        count = bins
    if low == high:
        low, high = low - 0.5, high + 0.5
    width = (high - low) / count
    if not (math.isfinite(high - low) and width > 0 and low + width > low
            and high - width < high):
        raise VizlogValueError(
            f"{where(method, 'bins')}: the values span [{low:g}, {high:g}], which cannot be "
            f"cut into {count:,} bins of finite, non-zero width; pass edges or bins='tensorflow'"
        )


def _rule_bin_count(finite: np.ndarray, rule: str, low: float, high: float,
                    method: str) -> int:
    """How many bins numpy's rule asks for, computed before any bin exists."""
    if low == high:
        return 1
    try:
        from numpy.lib._histograms_impl import (  # type: ignore[attr-defined]  # numpy >= 2
            _hist_bin_selectors,
        )

        with np.errstate(all="ignore"):
            width = float(_hist_bin_selectors[rule](finite, (low, high)))
        span = high - low
        count = int(math.ceil(span / width)) if width > 0 and math.isfinite(span) else 1
    except (ImportError, KeyError):  # numpy < 2: ask numpy itself, which allocates the edges
        with np.errstate(all="ignore"):
            count = len(np.histogram_bin_edges(finite, bins=rule)) - 1
    except (OverflowError, ValueError):
        count = MAX_BINS + 1
    if count > MAX_BINS:
        raise VizlogValueError(
            f"{where(method, 'bins')}: the rule {rule!r} asks for more than {MAX_BINS:,} bins "
            f"for values in [{low:g}, {high:g}]; pass a count, edges or bins='tensorflow'"
        )
    return max(count, 1)


def histogram_input(
    values: Any, bins: Any, method: str = "histogram"
) -> tuple[np.ndarray, int]:
    """Check ``values`` and take a private copy of them to bin later (``bins`` already
    checked).  Returns the copy and how many values are NaN/infinite (left out).
    """
    array = to_numpy(values, method, "values")
    if array.size == 0:
        raise VizlogValueError(f"{where(method, 'values')}: cannot make a histogram of no values")
    array, finite = snapshot(array)
    dropped = 0
    if not finite:
        dropped = int(array.size - np.count_nonzero(np.isfinite(array)))
        if dropped == array.size:
            raise VizlogValueError(
                f"{where(method, 'values')}: all {dropped} values are NaN or infinite; "
                "a histogram needs finite values"
            )
    check_bins_for(array, bins, method)
    return array, dropped


#: values copied per step of ``snapshot``: each piece is checked while it is in the cache
SNAPSHOT_CHUNK = 1 << 18


def snapshot(array: np.ndarray) -> tuple[np.ndarray, bool]:
    """A flat private copy of ``array`` and whether every value is finite, in one pass over
    memory: each piece is checked (its min and max, NaN-propagating) right after it is
    copied, while it is still in the cache."""
    flat = array.reshape(-1)
    copy = _buffer(flat.dtype, flat.size)
    if flat.dtype.kind != "f":
        np.copyto(copy, flat)
        return copy, True
    finite = True
    for start in range(0, flat.size, SNAPSHOT_CHUNK):
        piece = copy[start:start + SNAPSHOT_CHUNK]
        np.copyto(piece, flat[start:start + SNAPSHOT_CHUNK])
        if finite and not (np.isfinite(piece.min()) and np.isfinite(piece.max())):
            finite = False
    return copy, finite


#: snapshots of binned histograms kept (in bytes, all together) for later snapshots of the
#: same size and type: the same tensors are logged again and again, and a fresh buffer
#: costs the first touch of each page (a fault, zeroed by the kernel), about as much as
#: the copy itself
SPARE_BYTES = 256 * 1024 * 1024
#: smaller snapshots are cheap to allocate, and are binned at the call anyway
SPARE_FROM_BYTES = 1024 * 1024
_spares: dict[tuple[str, int], list[np.ndarray]] = {}
_spare_bytes = 0
_spare_lock = threading.Lock()


def _buffer(dtype: np.dtype, size: int) -> np.ndarray:
    global _spare_bytes
    with _spare_lock:
        free = _spares.get((dtype.str, size))
        if free:
            buffer = free.pop()
            _spare_bytes -= buffer.nbytes
            return buffer
    return np.empty(size, dtype=dtype)


def bin_snapshot(array: np.ndarray, bins: Any, max_bins: int | None = None) -> dict[str, Any]:
    """``bin_values`` of a snapshot taken by ``histogram_input``, which nothing reads after:
    its buffer then serves a later snapshot."""
    global _spare_bytes
    fields = bin_values(array, bins, max_bins)
    if array.nbytes >= SPARE_FROM_BYTES and array.flags.owndata:
        with _spare_lock:
            if _spare_bytes + array.nbytes <= SPARE_BYTES:
                _spares.setdefault((array.dtype.str, array.size), []).append(array)
                _spare_bytes += array.nbytes
    return fields


def _forget_spares() -> None:
    """In a forked child: the lock may have been held by a thread that does not exist."""
    global _spare_lock, _spare_bytes
    _spare_lock = threading.Lock()
    _spares.clear()
    _spare_bytes = 0


os.register_at_fork(after_in_child=_forget_spares)


def bin_values(array: np.ndarray, bins: Any, max_bins: int | None = None) -> dict[str, Any]:
    """The fields of a ``Histogram`` record, binned exactly as the TensorBoard writers bin.

    Non-finite values cannot be binned: they are left out and counted in ``dropped``.  The
    default edges are binned in one pass (``vizlog.concepts.binning``), with the same counts
    as the writers' ``np.histogram``; other bins go through ``np.histogram`` as theirs do.
    """
    if isinstance(bins, str) and bins == "tensorflow":
        binned = binning.bin_tensorflow(array, TENSORFLOW_EDGES)
        counts, limits = trim_support(binned["counts"], TENSORFLOW_EDGES, max_bins)
        return {
            "min": binned["min"], "max": binned["max"], "num": binned["num"],
            "sum": binned["sum"], "sum_squares": binned["sum_squares"],
            "bucket_limits": limits.astype(np.float64),
            "bucket_counts": counts.astype(np.float64), "dropped": binned["dropped"],
        }
    array = array.astype(np.float64, copy=False)
    finite = np.isfinite(array)
    dropped = int(array.size - np.count_nonzero(finite))
    if dropped:
        array = array[finite]
    counts, limits = np.histogram(array, bins=bins)
    counts, limits = trim_support(counts, limits, max_bins)
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
    bins = check_bins(bins, method)
    array, _ = histogram_input(values, bins, method)
    return bin_values(array, bins)


def trim_support(counts: np.ndarray, limits: np.ndarray,
                 max_bins: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Keep the bins that hold values, with one empty bin on the left (TensorBoard keeps only
    right edges, so the empty bin carries the leftmost edge).  Same as the writers', with
    their ``max_bins``: neighbouring bins merged first so that at most about that many stay.
    """
    if max_bins is not None and counts.size > max_bins:
        group = counts.size // max_bins
        if counts.size % group:
            counts = np.pad(counts, [0, group - counts.size % group])
        counts = counts.reshape(-1, group).sum(axis=-1)
        limits = np.concatenate([limits[:-1:group], limits[-1:]])
    cum_counts = np.cumsum(np.greater(counts, 0))
    if cum_counts[-1] == 0:  # every value fell outside the bins
        return np.zeros(1), limits[-1:]
    start, end = np.searchsorted(cum_counts, [0, cum_counts[-1] - 1], side="right")
    start, end = int(start), int(end) + 1
    counts = counts[start - 1 : end] if start > 0 else np.concatenate([[0], counts[:end]])
    limits = limits[start : end + 1]
    return counts, limits


_device_edges: dict[Any, Any] = {}


def _edges_on(device: Any, edges_np: np.ndarray) -> Any:
    """The edges as a tensor on ``device``.  The default edges are copied there once per
    device; other edges go through pinned memory without blocking (a plain copy from pageable
    memory would make the training thread wait for the GPU)."""
    import torch

    default = edges_np is TENSORFLOW_EDGES
    if default and device in _device_edges:
        return _device_edges[device]
    host = torch.from_numpy(edges_np)
    if device.type == "cuda":
        host = host.pin_memory()
    edges = host.to(device, non_blocking=True)
    if default:
        _device_edges[device] = edges
    return edges


def bin_later(values: Any, bins: Any,
              max_bins: int | None = None) -> Callable[[], dict[str, Any]]:
    """Start binning a tensor without waiting for its device; the returned function (called
    on the delivery thread) waits and gives the ``Histogram`` fields.

    ``"tensorflow"`` and explicit edges are binned where the tensor lives, so only the
    counts travel.  A count or a numpy rule depends on the data's range: the values are
    copied to the host without blocking and binned there with numpy, as the writers do.
    ``num`` is 0 when no value was finite (then nothing is logged).
    """
    if isinstance(bins, np.ndarray) or bins == "tensorflow":
        return device_histogram(values, bins, max_bins)
    wait = to_host_async(values.detach().reshape(-1))

    def finish() -> dict[str, Any]:
        array = wait()
        if array.dtype.kind == "f" and array.itemsize < 4:
            array = array.astype(np.float32)
        finite = np.isfinite(array) if array.dtype.kind == "f" else np.ones(array.shape, bool)
        if not finite.any():
            return {"num": 0, "dropped": int(array.size)}
        check_bins_for(array, bins)
        return bin_values(array, bins, max_bins)

    return finish


def device_histogram(values: Any, bins: Any,
                     max_bins: int | None = None) -> Callable[[], dict[str, Any]]:
    """Bin a tensor where it lives; only the counts and five statistics travel.

    Same semantics as the writers' numpy binning (half-open bins, last one closed, values
    outside the edges not counted, non-finite values left out).  Works on any device; on
    CUDA nothing here waits for the GPU.
    """
    import torch

    flat = values.detach().reshape(-1).to(torch.float64)
    finite = torch.isfinite(flat)
    kept = torch.where(finite, flat, torch.zeros((), dtype=flat.dtype, device=flat.device))
    big = torch.finfo(torch.float64).max
    edges_np = TENSORFLOW_EDGES if isinstance(bins, str) else np.asarray(bins, dtype=np.float64)
    edges = _edges_on(flat.device, edges_np)
    n_bins = len(edges_np) - 1
    index = torch.bucketize(kept, edges, right=True) - 1
    index = torch.where(kept == edges[-1], torch.full_like(index, n_bins - 1), index)
    inside = finite & (index >= 0) & (index < n_bins)
    index = torch.where(inside, index, torch.full_like(index, n_bins))  # spill slot
    counts = torch.zeros(n_bins + 1, dtype=torch.float64, device=flat.device)
    counts.scatter_add_(0, index, torch.ones_like(kept))
    stats = torch.stack([
        torch.where(finite, flat, torch.full_like(flat, big)).min(),
        torch.where(finite, flat, torch.full_like(flat, -big)).max(),
        finite.sum().to(torch.float64),
        kept.sum(),
        (kept * kept).sum(),
    ])
    packed = torch.cat([stats, counts[:n_bins]])
    if packed.is_cuda:
        wait = to_host_async(packed)
    else:
        host = packed.numpy()

        def wait() -> np.ndarray:
            return host

    total = flat.numel()

    def finish() -> dict[str, Any]:
        data = wait()
        num = int(data[2])
        if num == 0:
            return {"num": 0, "dropped": total}
        counts_np, limits = trim_support(data[5:], edges_np, max_bins)
        return {
            "min": float(data[0]), "max": float(data[1]), "num": num, "sum": float(data[3]),
            "sum_squares": float(data[4]), "bucket_limits": limits,
            "bucket_counts": counts_np, "dropped": total - num,
        }

    return finish

