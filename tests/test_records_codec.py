"""The JSON-lines codec of records (the Visdom spool, ``vizlog replay``): arrays stored as
bytes, equal after the round trip, and spool lines written by earlier versions still read."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vizlog.concepts import histogram
from vizlog.records import Embedding, Histogram, Image, PRCurve, from_json, to_json

#: lines as vizlog wrote them when arrays were JSON lists of numbers
OLD_HISTOGRAM = (
    '{"tag":"w","step":3,"walltime":12.5,"min":-1.0,"max":2.0,"num":3,"sum":1.5,'
    '"sum_squares":5.25,"bucket_limits":{"__ndarray__":[-1.1,-1.0,1e-12,2.1],"dtype":'
    '"float64","shape":[4]},"bucket_counts":{"__ndarray__":[0.0,1.0,1.0,1.0],"dtype":'
    '"float64","shape":[4]},"dropped":0,"kind":"histogram"}'
)
OLD_IMAGE = (
    '{"tag":"img","step":1,"walltime":2.0,"pixels":{"__ndarray__":[[[1,2,3],[4,5,6]]],'
    '"dtype":"uint8","shape":[1,2,3]},"kind":"image"}'
)


def test_lines_written_before_still_read():
    old = from_json(OLD_HISTOGRAM)
    assert isinstance(old, Histogram) and (old.tag, old.step, old.num) == ("w", 3, 3)
    assert old.bucket_limits.tolist() == [-1.1, -1.0, 1e-12, 2.1]
    assert old.bucket_counts.dtype == np.float64
    image = from_json(OLD_IMAGE)
    assert isinstance(image, Image) and image.pixels.dtype == np.uint8
    assert image.pixels.tolist() == [[[1, 2, 3], [4, 5, 6]]]


@pytest.mark.parametrize("array", [
    np.arange(24, dtype=np.float32).reshape(2, 3, 4),
    np.array([np.nan, np.inf, -0.0, 5e-324, 1.7976931348623157e308]),
    np.arange(6, dtype=">i4").reshape(3, 2),  # big-endian bytes read back as the same numbers
    np.zeros((0, 3), dtype=np.float32),
    np.asfortranarray(np.arange(12, dtype=np.int64).reshape(3, 4)),
    np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8),  # not compressed
    np.zeros(5_000, dtype=np.float64),  # compressed
])
def test_arrays_come_back_equal(array):
    record = Embedding("e", 1, 0.0, array)
    line = to_json(record)
    json.loads(line)
    back = from_json(line).mat
    assert back.dtype == array.dtype and back.shape == array.shape
    assert back.tobytes() == np.ascontiguousarray(array).tobytes()
    assert back.flags.writeable  # records own their arrays


def test_small_arrays_are_compressed_when_it_pays_large_ones_never():
    def stored(array: np.ndarray) -> dict:
        return json.loads(to_json(Embedding("e", 1, 0.0, array)))["mat"]

    assert stored(np.zeros(5_000))["zlib"] is True  # 40 KB of zeros
    assert stored(np.zeros(50_000))["zlib"] is False  # 400 KB: not tried
    noise = np.random.default_rng(7).integers(0, 256, 4_000, dtype=np.uint8)
    assert stored(noise)["zlib"] is False  # would not save a tenth


def _old_line(record: object) -> str:
    """The record as the list-of-numbers codec wrote it (for size comparisons)."""
    payload = {}
    for name in record.__dataclass_fields__:  # type: ignore[attr-defined]
        value = getattr(record, name)
        if isinstance(value, np.ndarray):
            value = {"__ndarray__": value.tolist(), "dtype": str(value.dtype),
                     "shape": value.shape}
        payload[name] = value
    return json.dumps(payload, separators=(",", ":"))


def test_images_are_at_least_three_times_smaller_than_as_numbers():
    pixels = np.random.default_rng(1).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    record = Image("i", 1, 0.0, pixels)
    assert len(to_json(record)) * 3 <= len(_old_line(record))


def test_histograms_are_at_least_three_times_smaller_than_as_numbers():
    values = np.random.default_rng(2).standard_normal(100_000)
    record = Histogram("h", 1, 0.0, **histogram.bin_values(values, "tensorflow"))
    line = to_json(record)
    assert len(line) * 3 <= len(_old_line(record))
    assert "__edges__" in json.loads(line)["bucket_limits"]  # a slice of the default edges
    _assert_same_histogram(from_json(line), record)


def _assert_same_histogram(back: Histogram, record: Histogram) -> None:
    for name in ("bucket_limits", "bucket_counts"):
        mine, theirs = getattr(back, name), getattr(record, name)
        assert mine.dtype == theirs.dtype and mine.tobytes() == theirs.tobytes()
        assert mine.flags.writeable
    assert (back.min, back.max, back.num, back.sum, back.sum_squares, back.dropped) == (
        record.min, record.max, record.num, record.sum, record.sum_squares, record.dropped)


@pytest.mark.parametrize("fields", [
    # custom edges: stored as numbers
    histogram.bin_values(np.linspace(-3, 3, 1000), 10),
    # counts beyond 32 bits, and a histogram of one bin past the default edges' end
    {"min": 0.0, "max": 1e30, "num": 2**40, "sum": 1.0, "sum_squares": 1.0,
     "bucket_limits": np.array([1e30]), "bucket_counts": np.array([float(2**40)])},
    # counts that are not whole numbers (histogram_raw accepts any)
    {"min": 0.0, "max": 1.0, "num": 2, "sum": 1.0, "sum_squares": 1.0,
     "bucket_limits": histogram.TENSORFLOW_EDGES[700:703].copy(),
     "bucket_counts": np.array([0.0, 0.5, 1.5])},
    # negative counts are kept as they are
    {"min": 0.0, "max": 1.0, "num": 2, "sum": 1.0, "sum_squares": 1.0,
     "bucket_limits": histogram.TENSORFLOW_EDGES[:2].copy(),
     "bucket_counts": np.array([-1.0, 3.0])},
    # the last default edges, and limits equal to the edges but one
    {"min": 0.0, "max": 1.0, "num": 2, "sum": 1.0, "sum_squares": 1.0,
     "bucket_limits": histogram.TENSORFLOW_EDGES[-3:].copy(), "bucket_counts": np.ones(3)},
    {"min": 0.0, "max": 1.0, "num": 2, "sum": 1.0, "sum_squares": 1.0,
     "bucket_limits": histogram.TENSORFLOW_EDGES[5:8] * np.array([1.0, 1.0 + 1e-15, 1.0]),
     "bucket_counts": np.ones(3)},
])
def test_every_histogram_comes_back_bit_for_bit(fields):
    record = Histogram("h", 1, 0.0, **fields)
    _assert_same_histogram(from_json(to_json(record)), record)


def test_pr_curve_round_trip():
    record = PRCurve("p", 1, 0.0, 3, *(np.arange(3, dtype=np.float64) + i for i in range(6)))
    back = from_json(to_json(record))
    assert back.recall.tolist() == record.recall.tolist()
    assert back.average_precision == record.average_precision
