"""Binning over the writers' default edges in one pass, with counts identical to theirs.

The writers bin with ``np.histogram`` over 1,548 uneven buckets, which sorts every block of
values and searches the edges: about 10 ns a value.  Those edges (``+-1e-12 * 1.1**k`` and 0)
grow by 10% from one to the next, while the values that share their sign, exponent and top
four mantissa bits span at most 6.25%: such a group of values (a *key*, read straight from
the float's bits) can meet at most one edge.  A table per key gives the bucket of the key's
lowest value and that one edge, written as a threshold in the values' own float type (the
smallest float at or above the edge), so that one exact comparison per value picks the
bucket.  Values below the first edge, above the last and non-finite values land in slots of
their own.  The result equals ``np.histogram(values.astype(float), TENSORFLOW_EDGES)``
exactly, on every float (edges, their neighbours, subnormals, -0.0): the tests check it.

Everything is done chunk by chunk so that the temporaries stay in the cache: the values are
read from memory once.  Min, max, sum and sum of squares come from the same chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vizlog.concepts import binning_compiled

#: top mantissa bits in a key: a key spans a ratio of at most 1 + 2**-4 < 1.1
KEY_MANTISSA_BITS = 4

#: values per chunk: the chunk and its temporaries stay in the CPU's cache
CHUNK = 1 << 16

#: arrays this large are binned by the compiled loop when numba is installed: they are
#: binned on the delivery thread, where its one-time compilation does not hold up training
COMPILED_FROM = 1 << 18


@dataclass(frozen=True)
class Table:
    """Per key: the threshold that moves a value one slot up, and the slot of each outcome.

    Slots: 0 below the first edge, ``1 + i`` bucket ``i``, ``n + 1`` above the last edge,
    ``n + 2`` NaN and infinities.
    """

    dtype: np.dtype
    uint: np.dtype
    shift: int
    threshold: np.ndarray
    base: np.ndarray  # a value's slot is base[key] + (value >= threshold[key])
    half_slot: np.ndarray  # the same, by half key: half_slot[2 * key + (value >= threshold)]
    buckets: int


def thresholds(edges: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Per edge, the smallest ``dtype`` float at or above it (above it for the last edge:
    ``np.histogram`` closes the last bucket), so ``value >= threshold`` in ``dtype`` is the
    exact comparison with the float64 edge."""
    t = edges.astype(dtype)
    low = t.astype(np.float64) < edges
    t[low] = np.nextafter(t[low], dtype.type(np.inf))
    if t[-1].astype(np.float64) <= edges[-1]:
        t[-1] = np.nextafter(t[-1], dtype.type(np.inf))
    return t


def build_table(edges: np.ndarray, dtype: Any) -> Table:
    """The table for ``edges`` (a geometric-enough series) and float ``dtype``."""
    dtype = np.dtype(dtype)
    uint = np.dtype(f"u{dtype.itemsize}")
    bits = dtype.itemsize * 8
    mantissa = np.finfo(dtype).nmant
    shift = mantissa - KEY_MANTISSA_BITS
    keys = np.arange(1 << (bits - shift), dtype=np.uint64).astype(uint)
    first = (keys << uint.type(shift)).view(dtype)
    last = ((keys << uint.type(shift)) | uint.type((1 << shift) - 1)).view(dtype)
    negative = (keys >> uint.type(bits - shift - 1)) == 1
    with np.errstate(invalid="ignore"):  # the keys of NaNs
        low = np.where(negative, last, first).astype(np.float64)
        high = np.where(negative, first, last).astype(np.float64)
    nonfinite = ~np.isfinite(low) | ~np.isfinite(high)
    t = thresholds(edges, dtype)
    t64 = t.astype(np.float64)
    n = len(edges) - 1
    low_slot = np.searchsorted(t64, np.where(nonfinite, 0.0, low), side="right")
    high_slot = np.searchsorted(t64, np.where(nonfinite, 0.0, high), side="right")
    if np.any(high_slot - low_slot > 1):  # pragma: no cover - a property of the edges
        raise ValueError("edges closer than one key: this table cannot bin them exactly")
    # no threshold (NaN: never reached) past the last edge and for non-finite keys
    threshold = np.full(keys.size, np.nan, dtype=dtype)
    inside = (low_slot <= n) & ~nonfinite
    threshold[inside] = t[low_slot[inside]]
    base = np.where(nonfinite, n + 2, low_slot).astype(np.intp)
    half_slot = np.stack([base, np.where(inside, base + 1, base)], axis=1).reshape(-1)
    return Table(dtype, uint, shift, threshold, base, half_slot, n)


_tables: dict[tuple[int, str], Table] = {}


def table_for(edges: np.ndarray, dtype: Any) -> Table:
    """Tables are built once per edges array and float type (a few ms)."""
    key = (id(edges), np.dtype(dtype).str)
    table = _tables.get(key)
    if table is None:
        table = _tables[key] = build_table(edges, dtype)
    return table


def _work_dtype(dtype: np.dtype) -> np.dtype:
    """The float type values are compared in: float32 holds float16 and small integers
    exactly; everything else is compared as float64, as the writers do."""
    if dtype == np.float32 or dtype == np.float16 or (dtype.kind in "biu" and dtype.itemsize <= 2):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def bin_tensorflow(values: np.ndarray, edges: np.ndarray) -> dict[str, Any]:
    """Counts per bucket of ``edges`` and the statistics of the finite values.

    Returns ``counts`` (one per bucket), ``num`` (finite values), ``dropped`` (NaN and
    infinities), and ``min``, ``max``, ``sum``, ``sum_squares`` of the finite values
    (``None`` when there are none).
    """
    flat = values.reshape(-1)
    table = table_for(edges, _work_dtype(flat.dtype))
    if flat.size >= COMPILED_FROM and flat.dtype == table.dtype:
        compiled = binning_compiled.kernel()
        if compiled is not None:
            return bin_compiled(compiled, np.ascontiguousarray(flat), table)
    return bin_numpy(flat, table)


def bin_compiled(compiled: Any, flat: np.ndarray, table: Table) -> dict[str, Any]:
    """``bin_tensorflow`` by the compiled loops (float32 or float64 values, contiguous)."""
    n = table.buckets
    slots = np.zeros(n + 3, dtype=np.int64)
    signed = np.dtype(f"i{table.dtype.itemsize}")
    magnitude = int(np.iinfo(signed).max)
    infinity = int(np.array(np.inf, table.dtype).view(signed))
    halves = np.empty(min(flat.size, binning_compiled.CHUNK),
                      np.uint16 if table.half_slot.size <= 1 << 16 else np.uint32)
    low, high, total, squares = compiled(
        flat, flat.view(table.uint), flat.view(signed), table.threshold, table.shift,
        magnitude, infinity, table.half_slot, halves, slots)
    return _result(slots, flat.size, n, _float_of(low, signed, table.dtype),
                   _float_of(high, signed, table.dtype), total, squares)


def _float_of(ordered: int, signed: np.dtype, dtype: np.dtype) -> float:
    """The float whose bits, mapped to keep the floats' order, are ``ordered`` (the compiled
    loops take min and max over that integer)."""
    bits = ordered ^ int(np.iinfo(signed).max) if ordered < 0 else ordered
    return float(np.array(bits, dtype=signed).view(dtype))


def bin_numpy(flat: np.ndarray, table: Table) -> dict[str, Any]:
    """``bin_tensorflow`` by numpy, chunk by chunk (any numeric type)."""
    n = table.buckets
    convert = flat.dtype != table.dtype
    size = min(CHUNK, flat.size)
    key = np.empty(size, dtype=np.intp)
    slot = np.empty(size, dtype=np.intp)
    limit = np.empty(size, dtype=table.dtype)
    above = np.empty(size, dtype=bool)
    wide = np.empty(size, dtype=np.float64)
    chunk_buf = np.empty(size, dtype=table.dtype) if convert else None
    slots = np.zeros(n + 3, dtype=np.int64)
    low, high = np.inf, -np.inf
    total = squares = 0.0
    for start in range(0, flat.size, CHUNK):
        x = flat[start:start + CHUNK]
        m = x.size
        if chunk_buf is not None:
            np.copyto(chunk_buf[:m], x, casting="unsafe")
            x = chunk_buf[:m]
        k, s, t, f, w = key[:m], slot[:m], limit[:m], above[:m], wide[:m]
        np.right_shift(x.view(table.uint), table.shift, out=k, casting="unsafe")
        np.take(table.threshold, k, out=t, mode="clip")
        np.take(table.base, k, out=s, mode="clip")
        np.greater_equal(x, t, out=f)
        np.add(s, f, out=s, casting="unsafe")
        slots += np.bincount(s, minlength=n + 3)
        lo, hi = x.min(), x.max()
        if not (np.isfinite(lo) and np.isfinite(hi)):
            x = x[np.isfinite(x)]
            if x.size == 0:
                continue
            lo, hi = x.min(), x.max()
            w = w[:x.size]
        low, high = min(low, float(lo)), max(high, float(hi))
        np.copyto(w, x)
        total += float(np.einsum("i->", w))
        squares += float(np.einsum("i,i->", w, w))
    return _result(slots, flat.size, n, low, high, total, squares)


def _result(slots: np.ndarray, size: int, n: int, low: float, high: float, total: float,
            squares: float) -> dict[str, Any]:
    dropped = int(slots[n + 2])
    num = int(size) - dropped
    stats: dict[str, Any] = {"min": None, "max": None, "sum": None, "sum_squares": None}
    if num:
        stats = {"min": float(low), "max": float(high), "sum": float(total),
                 "sum_squares": float(squares)}
    return {"counts": slots[1:n + 1], "num": num, "dropped": dropped, **stats}
