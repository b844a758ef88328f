"""Work that must not run on the training thread: finished where the record is delivered.

A ``Pending`` holds what is needed to build a record later: a snapshot of a large array to
bin, or the result of work queued on a CUDA stream (with an event that says when it is done).
The delivery thread calls ``resolve()``; the first caller builds the record, every other
backend gets the same one.  Validation has already happened on the caller's thread, so
resolving cannot fail on user input.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from vizlog.convert import TENSORFLOW_EDGES, _trim_support
from vizlog.records import Record


class Pending:
    """A record still being computed; ``resolve()`` returns it (or None: nothing to log)."""

    __slots__ = ("_make", "_record", "_lock", "_done")

    def __init__(self, make: Callable[[], Record | None]) -> None:
        self._make = make
        self._record: Record | None = None
        self._lock = threading.Lock()
        self._done = False

    def resolve(self) -> Record | None:
        with self._lock:
            if not self._done:
                self._record = self._make()
                self._done = True
                self._make = None  # type: ignore[assignment]  # free the snapshot
            return self._record


def resolve(item: Record | Pending) -> Record | None:
    return item.resolve() if isinstance(item, Pending) else item


# ------------------------------------------------------------------------------- CUDA


def to_host_async(tensor: Any) -> Callable[[], np.ndarray]:
    """Start copying a CUDA tensor to pinned host memory without waiting; the returned
    function waits for the copy (on whichever thread calls it) and gives the array."""
    import torch

    host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
    host.copy_(tensor, non_blocking=True)
    event = torch.cuda.Event()
    event.record()

    def wait() -> np.ndarray:
        event.synchronize()
        return host.numpy()

    return wait


def scalar_later(value: Any) -> Callable[[], float]:
    """A CUDA scalar read without synchronising the training thread."""
    wait = to_host_async(value.detach().reshape(()).float())
    return lambda: float(wait())


def device_histogram(values: Any, bins: Any) -> Callable[[], dict[str, Any] | None]:
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
    edges = torch.as_tensor(edges_np, device=flat.device)
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

    def finish() -> dict[str, Any] | None:
        data = wait()
        num = int(data[2])
        if num == 0:
            warnings.warn("vizlog: a histogram had no finite values and was not logged",
                          RuntimeWarning, stacklevel=1)
            return None
        counts_np, limits = _trim_support(data[5:], edges_np)
        return {
            "min": float(data[0]), "max": float(data[1]), "num": num, "sum": float(data[3]),
            "sum_squares": float(data[4]), "bucket_limits": limits,
            "bucket_counts": counts_np, "dropped": total - num,
        }

    return finish
