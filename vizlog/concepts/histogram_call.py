"""What a histogram call becomes: its fields now (small inputs), a function that bins on
the delivery thread (large or CUDA inputs), or buckets binned elsewhere (``histogram_raw``,
the writers' ``add_histogram_raw``).  The binning itself is in ``histogram``."""

from __future__ import annotations

from typing import Any

import numpy as np

from vizlog.concepts import common
from vizlog.concepts.common import to_numpy, to_scalar, where
from vizlog.concepts.histogram import (
    bin_later,
    bin_snapshot,
    bin_values,
    check_bins,
    histogram_input,
)
from vizlog.errors import VizlogValueError

#: histograms of more values than this are binned on the delivery thread
BIN_LATER_ABOVE = 65_536


def prepare(values: Any, bins: Any, max_bins: Any = None,
            method: str = "histogram") -> tuple[Any, int | None, int]:
    """Check ``values``, ``bins`` and ``max_bins`` once.  Returns the ``Histogram`` fields,
    or (for large or CUDA inputs) a function that bins on the delivery thread and returns
    them; then how many values are NaN/infinite and how many are kept (None and 0 when only
    binning will tell)."""
    bins = check_bins(bins, method)
    if max_bins is not None and (isinstance(max_bins, bool) or not isinstance(
            max_bins, int | np.integer) or max_bins < 1):
        raise VizlogValueError(f"{where(method, 'max_bins')}: expected None or a count >= 1")
    if common.is_cuda(values):  # binned where the tensor lives without waiting; only counts travel
        common.check_numeric_tensor(values, method, "values")  # refuses an empty one too
        return bin_later(values, bins, max_bins), None, 0
    array, dropped = histogram_input(values, bins, method)
    if array.size > BIN_LATER_ABOVE:  # binned later, from a private copy
        return (lambda: bin_snapshot(array, bins, max_bins)), dropped, array.size - dropped
    return bin_values(array, bins, max_bins), dropped, array.size - dropped


def raw_fields(min: Any, max: Any, num: Any, sum: Any, sum_squares: Any, bucket_limits: Any,
               bucket_counts: Any, method: str = "histogram_raw") -> dict[str, Any]:
    """A histogram binned elsewhere (the writers' ``add_histogram_raw``): right edges and one
    count per bucket, checked and copied."""
    fields: dict[str, Any] = {
        name: to_scalar(value, method, name)
        for name, value in (("min", min), ("max", max), ("sum", sum),
                            ("sum_squares", sum_squares), ("num", num))
    }
    if not float(fields["num"]).is_integer() or fields["num"] < 0:
        raise VizlogValueError(f"{where(method, 'num')}: expected a count, got {num!r}")
    fields["num"] = int(fields["num"])
    limits = to_numpy(bucket_limits, method, "bucket_limits").astype(np.float64).reshape(-1)
    counts = to_numpy(bucket_counts, method, "bucket_counts").astype(np.float64).reshape(-1)
    if limits.size != counts.size or limits.size == 0:
        raise VizlogValueError(
            f"{method}(bucket_limits=..., bucket_counts=...): expected the same, non-zero "
            f"length, got {limits.size} and {counts.size}"
        )
    if np.any(np.isnan(limits)) or np.any(np.diff(limits) < 0):
        raise VizlogValueError(f"{where(method, 'bucket_limits')}: expected increasing edges")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise VizlogValueError(f"{where(method, 'bucket_counts')}: expected counts >= 0")
    fields.update(bucket_limits=np.array(limits, copy=True), bucket_counts=np.array(counts,
                                                                                     copy=True))
    return fields
