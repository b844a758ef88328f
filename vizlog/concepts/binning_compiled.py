"""The one-pass binning as compiled loops, when numba is installed (``vizlog[fast]``).

numpy runs the table binning as eight array operations per chunk (about 5 ns a value).
Compiled, each chunk of values (small enough to stay in the CPU's cache) takes three passes,
each written so that the processor can run it at full width:

- each value's *half key*: its key and which side of the key's threshold it falls on.  The
  comparison is stored, not branched on: a value near an edge falls on either side at random,
  and a branch there is mispredicted for a third of the values (this was most of the time
  of the earlier single loop);
- the count per half key, an increment whose address is known as soon as the half key is
  read (the slot is looked up once per half key at the end, not once per value);
- the statistics, vectorised: min and max over the float bits mapped to integers of the same
  order, the float64 sums reassociated into lanes.  A chunk with NaN or infinities (they map
  beyond every finite value) is summed again one value at a time, leaving them out.

Same table, same comparison, so the same counts; only the order of the float64 sums differs
(a few units in the last place).  The loops release the interpreter while they run, so the
training thread is not held up by the sender binning.  They are compiled on first use (about
1 s, then cached on disk, about 0.5 s a process), so they are used only for arrays large
enough to be binned on the delivery thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_kernel: Any = None
_tried = False
_lock = threading.Lock()  # two senders binning their first large histogram compile once

#: values per chunk: the chunk, its half keys and the counts stay in the CPU's cache
CHUNK = 1 << 14


def _compile() -> Any:
    import numba
    import numpy as np

    def jit(**options: Any) -> Callable[[Any], Any]:
        def wrap(function: Any) -> Any:
            try:
                return numba.njit(function, cache=True, nogil=True, boundscheck=False,
                                  error_model="numpy", **options)
            except RuntimeError:  # no writable cache directory: compile in every process
                return numba.njit(function, nogil=True, boundscheck=False,
                                  error_model="numpy", **options)
        return wrap

    @jit()
    def half_keys(x: Any, bits: Any, threshold: Any, shift: int, halves: Any) -> None:
        for i in range(x.size):
            key = bits[i] >> shift
            halves[i] = (key << 1) | (x[i] >= threshold[key])

    @jit()
    def count(halves: Any, counts: Any) -> None:
        for i in range(halves.size):
            counts[halves[i]] += 1

    # NaN and infinities cannot reach here unnoticed: they only widen the integer range,
    # which the caller checks before it keeps the sums
    @jit(fastmath={"reassoc", "nsz", "contract"})
    def ordered_stats(x: Any, signed: Any, magnitude: int) -> tuple[int, int, float, float]:
        low: Any = magnitude  # Any: numpy integers to mypy, machine integers compiled
        high: Any = -magnitude - 1
        total = squares = 0.0
        for i in range(x.size):
            b = np.int64(signed[i])
            ordered = b ^ ((b >> 63) & magnitude)  # negative floats: reverse their order
            low = min(low, ordered)
            high = max(high, ordered)
            value = np.float64(x[i])
            total += value
            squares += value * value
        return low, high, total, squares

    @jit()
    def finite_stats(x: Any, signed: Any, magnitude: int,
                     infinity: int) -> tuple[int, int, float, float]:
        low: Any = magnitude  # Any: numpy integers to mypy, machine integers compiled
        high: Any = -magnitude - 1
        total = squares = 0.0
        for i in range(x.size):
            b = np.int64(signed[i])
            if (b & magnitude) < infinity:
                ordered = b ^ ((b >> 63) & magnitude)
                low = min(low, ordered)
                high = max(high, ordered)
                value = np.float64(x[i])
                total += value
                squares += value * value
        return low, high, total, squares

    @jit()
    def kernel(x: Any, bits: Any, signed: Any, threshold: Any, shift: int, magnitude: int,
               infinity: int, half_slot: Any, halves: Any,
               slots: Any) -> tuple[int, int, float, float]:
        n = x.size
        counts = np.zeros(half_slot.size, np.int64)
        low = magnitude
        high = -magnitude - 1
        total = squares = 0.0
        for start in range(0, n, CHUNK):
            stop = min(n, start + CHUNK)
            chunk = x[start:stop]
            half_keys(chunk, bits[start:stop], threshold, shift, halves[:stop - start])
            count(halves[:stop - start], counts)
            lo, hi, t, s = ordered_stats(chunk, signed[start:stop], magnitude)
            if lo <= ~infinity or hi >= infinity:
                lo, hi, t, s = finite_stats(chunk, signed[start:stop], magnitude, infinity)
            low = min(low, lo)
            high = max(high, hi)
            total += t
            squares += s
        for half in range(half_slot.size):
            slots[half_slot[half]] += counts[half]
        return low, high, total, squares

    return kernel


def kernel() -> Callable[..., tuple[int, int, float, float]] | None:
    """The compiled binning, or None without numba (or with a numba that cannot load)."""
    global _kernel, _tried
    with _lock:
        if not _tried:
            try:
                _kernel = _compile()
            except ImportError:
                _kernel = None
            _tried = True
    return _kernel
