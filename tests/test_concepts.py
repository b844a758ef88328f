"""Pure conversions, checked against the writers' own functions."""

from __future__ import annotations

import numpy as np
import pytest
from torch.utils.tensorboard.summary import make_histogram

from vizlog.concepts import common, histogram, image, pr_curve


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(0).normal(size=20000),
        np.array([0.0, 1e-12, -1e-12, 1.1e-12, 5.0, 1e19]),
        np.array([3.0]),
        np.arange(-50, 50, dtype=np.float64) * 1e-3,
    ],
)
def test_tensorflow_bins_equal_the_writers(values):
    ours = histogram.histogram_fields(values, "tensorflow")
    raw = make_histogram(values.astype(float), histogram.TENSORFLOW_EDGES.tolist())
    assert ours["bucket_limits"].tolist() == list(raw.bucket_limit)
    assert ours["bucket_counts"].tolist() == list(raw.bucket)
    assert (ours["num"], ours["min"], ours["max"]) == (raw.num, raw.min, raw.max)
    assert ours["sum_squares"] == pytest.approx(raw.sum_squares)


def test_numpy_bin_rules_equal_the_writers():
    values = np.random.default_rng(1).uniform(size=1000)
    for bins in ("auto", 10, [0.0, 0.5, 1.0]):
        ours = histogram.histogram_fields(values, bins)
        raw = make_histogram(values, bins)
        assert ours["bucket_counts"].tolist() == list(raw.bucket)


@pytest.mark.parametrize(
    "shape, dataformats, expected",
    [
        ((4, 5), None, (4, 5, 3)),
        ((1, 4, 5), None, (4, 5, 3)),
        ((3, 4, 5), None, (4, 5, 3)),
        ((6, 5, 4), None, (6, 5, 4)),
        ((4, 5, 3), "HWC", (4, 5, 3)),
        ((3, 3, 3), "CHW", (3, 3, 3)),
        ((9, 3, 4, 5), None, (8, 40, 3)),   # 9 images: 8 per row, 2 rows
        ((2, 6, 5, 1), None, (6, 10, 3)),
        ((2, 4, 5), "NHW", (4, 10, 3)),
    ],
)
def test_image_layouts(shape, dataformats, expected):
    assert image.image_pixels(np.zeros(shape), dataformats).shape == expected


@pytest.mark.parametrize("shape", [(4, 5, 4), (2, 4, 5, 1), (3, 3, 3)])
def test_ambiguous_layouts_ask_for_dataformats(shape):
    with pytest.raises(ValueError, match="ambiguous.*dataformats"):
        image.image_pixels(np.zeros(shape), None)


def test_chw_and_hwc_give_the_same_picture():
    rng = np.random.default_rng(3)
    chw = rng.uniform(size=(3, 6, 7))
    a = image.image_pixels(chw, "CHW")
    b = image.image_pixels(np.transpose(chw, (1, 2, 0)), "HWC")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[..., 1], np.rint(chw[1] * 255).astype(np.uint8))


def test_pr_curve_weights_and_extremes():
    fields = pr_curve.pr_curve_fields([1, 1, 0, 0], [1.0, 0.6, 0.4, 0.0], 11, [1, 2, 1, 1])
    assert fields["true_positive_counts"][0] == 3  # weighted positives
    assert fields["false_positive_counts"][0] == 2
    assert fields["precision"][-1] == 1.0 and fields["recall"][-1] == pytest.approx(1 / 3)


def test_scalar_conversions():
    import torch

    assert common.to_scalar(np.float16(0.5)) == 0.5
    assert common.to_scalar(np.array([[2]])) == 2.0
    assert common.to_scalar(torch.tensor([3.5])) == 3.5
    assert common.to_scalar(True) == 1.0
    assert common.to_step(np.int64(3), "scalar") == 3
    assert common.to_step(torch.tensor(4), "scalar") == 4
