"""Reading CUDA tensors without making the training thread wait for the GPU."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def to_host_async(tensor: Any) -> Callable[[], np.ndarray]:
    """Start copying a CUDA tensor to pinned host memory without waiting; the returned
    function waits for the copy (on whichever thread calls it) and gives the array."""
    import torch

    if not tensor.is_cuda:  # already readable: a private copy, taken now
        array = tensor.detach().cpu().numpy().copy()
        return lambda: array
    host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
    host.copy_(tensor, non_blocking=True)
    event = torch.cuda.Event()
    event.record()

    def wait() -> np.ndarray:
        event.synchronize()
        return host.numpy()

    return wait
