"""The one-pass binning over the default edges gives exactly the writers' bins.

The reference is what the writers do: ``np.histogram(values.astype(float), TENSORFLOW_EDGES)``
then the same trimming (``torch.utils.tensorboard.summary.make_histogram``).  Values are drawn
where binning can go wrong: on the edges and one float away on either side (in the values'
own type), subnormals, +-0, the smallest and largest floats, beyond the last edge, NaN and
infinities, and in every float and integer type.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch.utils.tensorboard.summary import make_histogram

from vizlog.concepts import binning, binning_compiled, histogram
from vizlog.concepts.histogram import TENSORFLOW_EDGES, device_histogram

FLOATS = (np.float16, np.float32, np.float64)
INTEGERS = (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64)


def _near_edges(dtype: type) -> np.ndarray:
    """Every edge as the nearest float of ``dtype``, and its neighbours both ways."""
    info = np.finfo(dtype)
    with np.errstate(over="ignore"):
        edges = TENSORFLOW_EDGES.astype(dtype)
    edges = edges[np.isfinite(edges)]
    special = np.array([0.0, -0.0, info.smallest_subnormal, -info.smallest_subnormal,
                        info.smallest_normal, -info.smallest_normal, info.max, info.min,
                        info.eps, info.tiny], dtype=dtype)
    return np.concatenate([
        edges, np.nextafter(edges, dtype(np.inf)), np.nextafter(edges, dtype(-np.inf)), special,
    ])


def _expected(values: np.ndarray) -> dict:
    """The writers' binning of the finite values."""
    wide = values.astype(float)
    finite = wide[np.isfinite(wide)]
    counts, limits = np.histogram(finite, bins=TENSORFLOW_EDGES)
    counts, limits = histogram.trim_support(counts, limits)
    return {"counts": counts.tolist(), "limits": limits.tolist(), "num": finite.size,
            "min": finite.min(), "max": finite.max(), "sum": finite.sum(),
            "sum_squares": finite.dot(finite), "dropped": values.size - finite.size}


def _compiled(values: np.ndarray) -> dict | None:
    """The compiled loop's binning (used for large arrays), on the same values."""
    kernel = binning_compiled.kernel()
    if kernel is None or values.dtype not in (np.float32, np.float64):
        return None
    table = binning.table_for(TENSORFLOW_EDGES, values.dtype)
    binned = binning.bin_compiled(kernel, np.ascontiguousarray(values), table)
    counts, limits = histogram.trim_support(binned["counts"], TENSORFLOW_EDGES)
    return {**binned, "bucket_counts": counts, "bucket_limits": limits}


def _check(values: np.ndarray) -> None:
    with np.errstate(over="ignore", invalid="ignore"):  # sums of the largest floats
        expected = _expected(values)
        ours = histogram.bin_values(values, "tensorflow")
        fast = _compiled(values)
    if fast is not None:
        _compare(fast, expected, values)
    _compare(ours, expected, values)


def _compare(ours: dict, expected: dict, values: np.ndarray) -> None:
    assert ours["bucket_counts"].tolist() == expected["counts"]
    assert ours["bucket_limits"].tolist() == expected["limits"]
    for key in ("num", "min", "max", "dropped"):
        assert ours[key] == expected[key], key
    wide = values.astype(float)
    with np.errstate(over="ignore"):
        scale = float(np.abs(wide[np.isfinite(wide)]).sum())
    if np.isfinite(scale) and np.isfinite(expected["sum_squares"]):  # else summing order shows
        assert abs(ours["sum"] - expected["sum"]) <= 1e-12 * scale
        assert ours["sum_squares"] == pytest.approx(expected["sum_squares"], rel=1e-12)


@pytest.mark.parametrize("dtype", FLOATS)
def test_every_edge_and_its_neighbours(dtype):
    values = _near_edges(dtype)
    _check(values)
    # one bucket at a time: a count moved by one between neighbouring buckets shows here
    for value in values[:: max(1, values.size // 400)]:
        _check(np.array([value, value], dtype=dtype))


def _float_arrays(dtype: type) -> st.SearchStrategy[np.ndarray]:
    pool = _near_edges(dtype)
    element = st.one_of(
        st.sampled_from(pool.tolist()),
        hnp.from_dtype(np.dtype(dtype), allow_nan=False, allow_infinity=False),
        st.floats(-3, 3, width=np.finfo(dtype).bits),
    )
    return hnp.arrays(dtype, st.integers(1, 300), elements=element)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(FLOATS).flatmap(_float_arrays))
def test_random_floats(values):
    with np.errstate(over="ignore"):  # float16's max squared
        _check(values)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(INTEGERS + (np.bool_,)).flatmap(
    lambda dtype: hnp.arrays(dtype, st.integers(1, 200))))
def test_integers_and_booleans(values):
    _check(values)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from((np.float32, np.float64)).flatmap(_float_arrays),
       st.lists(st.sampled_from([np.nan, np.inf, -np.inf]), min_size=1, max_size=5))
def test_non_finite_values_are_left_out(values, bad):
    values = np.concatenate([values, np.array(bad, dtype=values.dtype)])
    np.random.default_rng(0).shuffle(values)
    _check(values)


def test_values_spanning_many_chunks():
    """Chunk boundaries change nothing: several chunks, one with a NaN and one all above the
    last edge."""
    rng = np.random.default_rng(3)
    values = rng.standard_normal(3 * binning.CHUNK + 17).astype(np.float32)
    values[binning.CHUNK + 5] = np.nan
    values[2 * binning.CHUNK: 2 * binning.CHUNK + 50] = 3e20
    _check(values)
    raw = make_histogram(values[np.isfinite(values)].astype(float), TENSORFLOW_EDGES.tolist())
    ours = histogram.bin_values(values, "tensorflow")
    assert ours["bucket_counts"].tolist() == list(raw.bucket)
    assert ours["bucket_limits"].tolist() == list(raw.bucket_limit)


def test_large_arrays_use_the_compiled_loop_when_numba_is_installed(monkeypatch):
    pytest.importorskip("numba")
    values = np.random.default_rng(4).standard_normal(binning.COMPILED_FROM).astype(np.float32)
    calls = []
    real = binning.bin_compiled
    monkeypatch.setattr(binning, "bin_compiled", lambda *a: calls.append(1) or real(*a))
    _compare(histogram.bin_values(values, "tensorflow"), _expected(values), values)
    assert calls == [1]


def test_values_all_beyond_the_edges():
    values = np.array([1e21, -1e21, 3e38], dtype=np.float32)
    _check(values)
    assert histogram.bin_values(values, "tensorflow")["bucket_counts"].tolist() == [0.0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_key_spans_two_thresholds(dtype):
    """The table's premise, checked on the whole table: within a key, at most one threshold."""
    table = binning.table_for(TENSORFLOW_EDGES, dtype)
    t = binning.thresholds(TENSORFLOW_EDGES, np.dtype(dtype))
    keys = (t.view(table.uint) >> table.uint.type(table.shift)).astype(np.int64)
    assert np.unique(keys).size == keys.size
    assert np.all(t.astype(float)[:-1] >= TENSORFLOW_EDGES[:-1])
    assert np.all(np.nextafter(t[:-1], dtype(-np.inf)).astype(float) < TENSORFLOW_EDGES[:-1])


@settings(max_examples=40, deadline=None)
@given(st.sampled_from((np.float32, np.float64)).flatmap(_float_arrays))
def test_device_binning_equals_the_cpu_binning(values):
    """``device_histogram`` (the code that runs on a GPU, here on a CPU tensor) gives the
    same bins as the one-pass binning."""
    with np.errstate(over="ignore"):
        ours = histogram.bin_values(values, "tensorflow")
        on_device = device_histogram(torch.from_numpy(values.copy()), "tensorflow")()
    assert on_device["bucket_counts"].tolist() == ours["bucket_counts"].tolist()
    assert on_device["bucket_limits"].tolist() == ours["bucket_limits"].tolist()
    for key in ("min", "max", "num", "dropped"):
        assert on_device[key] == ours[key], key


def test_a_binned_snapshot_serves_the_next_one():
    """The buffer of a binned snapshot is reused for the next snapshot of the same size and
    type, and holds the new values."""
    rng = np.random.default_rng(5)
    first_values, second_values = rng.standard_normal((2, 300_000)).astype(np.float32)
    first, _ = histogram.histogram_input(first_values, "tensorflow")
    assert histogram.bin_snapshot(first, "tensorflow")["max"] == float(first_values.max())
    second, _ = histogram.histogram_input(second_values, "tensorflow")
    assert second is first
    assert np.array_equal(second, second_values)
    _compare(histogram.bin_snapshot(second, "tensorflow"), _expected(second_values),
             second_values)
    other, _ = histogram.histogram_input(second_values.astype(np.float64), "tensorflow")
    assert other is not first  # another type: a buffer of its own


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_cuda_binning_equals_the_cpu_binning(dtype):
    """On a GPU: the bins of a CUDA tensor (edges, their neighbours, random values, NaN) are
    the CPU's, and binning it does not synchronise the training thread."""
    values = np.concatenate([_near_edges(dtype), np.array([np.nan, np.inf], dtype=dtype),
                             np.random.default_rng(6).standard_normal(100_000).astype(dtype)])
    tensor = torch.from_numpy(values).cuda()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        finish = device_histogram(tensor, "tensorflow")
    finally:
        torch.cuda.set_sync_debug_mode("default")
    on_device = finish()
    with np.errstate(over="ignore", invalid="ignore"):
        ours = histogram.bin_values(values.astype(np.float32) if dtype == np.float16 else values,
                                    "tensorflow")
    assert on_device["bucket_counts"].tolist() == ours["bucket_counts"].tolist()
    assert on_device["bucket_limits"].tolist() == ours["bucket_limits"].tolist()
    for key in ("min", "max", "num", "dropped"):
        assert on_device[key] == ours[key], key


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_chunks_with_and_without_non_finite_values(dtype):
    """The compiled loops sum a chunk fast unless it holds NaN or infinities: a chunk of NaN
    only, one ending in -inf and one starting with +inf are all summed without them."""
    pytest.importorskip("numba")
    chunk = binning_compiled.CHUNK
    values = np.random.default_rng(5).standard_normal(4 * chunk + 3).astype(dtype)
    values[chunk:2 * chunk] = np.nan
    values[3 * chunk - 1] = -np.inf
    values[3 * chunk] = np.inf
    values[-1] = -0.0
    _check(values)
    nothing_finite = _compiled(values[chunk:2 * chunk])
    assert nothing_finite is not None
    assert (nothing_finite["num"], nothing_finite["dropped"]) == (0, chunk)
    assert nothing_finite["min"] is None and nothing_finite["sum"] is None
