"""Precision-recall curves, reduced once to counts per threshold (the writers' raw form)."""

from __future__ import annotations

from typing import Any

import numpy as np

from vizlog.concepts.common import to_numpy, where
from vizlog.errors import VizlogTypeError, VizlogValueError

#: more thresholds than this is refused at the call (each costs memory in every record, and a
#: curve is drawn from far fewer points)
MAX_THRESHOLDS = 100_000


def pr_curve_fields(
    labels: Any, predictions: Any, num_thresholds: Any, weights: Any, method: str = "pr_curve"
) -> dict[str, Any]:
    """Counts per threshold, computed once, as the writers' ``compute_curve`` does."""
    if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int | np.integer):
        raise VizlogTypeError(f"{where(method, 'num_thresholds')}: expected an integer")
    num_thresholds = int(num_thresholds)
    if not 2 <= num_thresholds <= MAX_THRESHOLDS:
        raise VizlogValueError(
            f"{where(method, 'num_thresholds')}: expected 2 to {MAX_THRESHOLDS:,}, "
            f"got {num_thresholds}"
        )
    label_array = to_numpy(labels, method, "labels").reshape(-1).astype(np.float64)
    pred_array = to_numpy(predictions, method, "predictions").reshape(-1).astype(np.float64)
    if label_array.size != pred_array.size:
        raise VizlogValueError(
            f"{method}: labels and predictions must have the same length, got "
            f"{label_array.size} labels and {pred_array.size} predictions"
        )
    if pred_array.size == 0:
        raise VizlogValueError(f"{where(method, 'predictions')}: no predictions")
    if not np.all((pred_array >= 0.0) & (pred_array <= 1.0)):
        bad = pred_array[~((pred_array >= 0.0) & (pred_array <= 1.0))][0]
        raise VizlogValueError(
            f"{where(method, 'predictions')}: expected probabilities in [0, 1], found {bad}"
        )
    if not np.all((label_array == 0.0) | (label_array == 1.0)):
        bad = label_array[~((label_array == 0.0) | (label_array == 1.0))][0]
        raise VizlogValueError(f"{where(method, 'labels')}: expected 0/1 or bool, found {bad}")
    if weights is None:
        weight_array: np.ndarray | float = 1.0
    else:
        weight_array = to_numpy(weights, method, "weights").reshape(-1).astype(np.float64)
        if weight_array.size not in (1, label_array.size):
            raise VizlogValueError(
                f"{where(method, 'weights')}: expected one weight per label "
                f"({label_array.size}), got {weight_array.size}"
            )
        if not np.all(np.isfinite(weight_array)) or np.any(weight_array < 0):
            raise VizlogValueError(f"{where(method, 'weights')}: expected finite weights >= 0")
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


RAW_NAMES = ("true_positive_counts", "false_positive_counts", "true_negative_counts",
             "false_negative_counts", "precision", "recall")


def raw_fields(curves: tuple[Any, ...], num_thresholds: Any,
               method: str = "pr_curve_raw") -> dict[str, Any]:
    """Counts per threshold computed elsewhere (the writers' ``add_pr_curve_raw``): six
    arrays of one length, checked and copied."""
    if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int | np.integer):
        raise VizlogTypeError(f"{where(method, 'num_thresholds')}: expected an integer")
    if num_thresholds < 2:
        raise VizlogValueError(f"{where(method, 'num_thresholds')}: expected at least 2")
    fields: dict[str, Any] = {}
    for name, value in zip(RAW_NAMES, curves, strict=True):
        array = to_numpy(value, method, name).astype(np.float64).reshape(-1)
        if array.size == 0 or not np.all(np.isfinite(array)):
            raise VizlogValueError(f"{where(method, name)}: expected finite numbers")
        fields[name] = np.array(array, copy=True)
    lengths = {array.size for array in fields.values()}
    if len(lengths) != 1:
        raise VizlogValueError(f"{method}(true_positive_counts=..., ..., recall=...): the six "
                               f"curves must have one length, got {sorted(lengths)}")
    fields["num_thresholds"] = int(num_thresholds)
    return fields
