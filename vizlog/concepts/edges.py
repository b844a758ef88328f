"""The writers' default histogram edges (``bins="tensorflow"``), built once.

Its own module because two sides need the same table: the binning, and the record codec,
which stores a histogram's limits as a slice of it instead of as numbers.
"""

from __future__ import annotations

import numpy as np


def _tensorflow_edges() -> np.ndarray:
    """+-1e-12 * 1.1**k up to 1e20, and 0: the writers' default bins."""
    v = 1e-12
    buckets = []
    while v < 1e20:
        buckets.append(v)
        v *= 1.1
    positive = np.array(buckets)
    return np.concatenate([-positive[::-1], [0.0], positive])


TENSORFLOW_EDGES = _tensorflow_edges()


def edge_slice(limits: np.ndarray) -> tuple[int, int] | None:
    """``(start, stop)`` when ``limits`` is exactly ``TENSORFLOW_EDGES[start:stop]``."""
    if limits.dtype != np.float64 or limits.ndim != 1 or not limits.size:
        return None
    start = int(np.searchsorted(TENSORFLOW_EDGES, limits[0]))
    stop = start + limits.size
    if stop > TENSORFLOW_EDGES.size or not np.array_equal(TENSORFLOW_EDGES[start:stop], limits):
        return None
    return start, stop
