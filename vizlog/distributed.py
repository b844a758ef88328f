"""Distributed training: which rank this process is, and values combined across ranks.

One rank policy, applied by the Logger in one place (``is_logging_rank``): only rank 0 logs
unless the Logger was made with ``all_ranks=True``.  Combining works on a copy: the caller's
tensor is never changed.
"""

from __future__ import annotations

import sys
from typing import Any

from vizlog import config
from vizlog.concepts.common import check_one_number, is_torch_tensor, to_scalar
from vizlog.errors import VizlogValueError

REDUCE_OPS = ("mean", "sum", "max", "min")


def rank() -> int:
    """This process's global rank: torch.distributed when initialised, else ``RANK``, then
    ``SLURM_PROCID``; 0 when not distributed."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return int(dist.get_rank())
    for name in ("RANK", "SLURM_PROCID"):
        value = config.env(name)
        if value is not None and value.strip().lstrip("-").isdigit():
            return int(value)
    return 0


def is_logging_rank(this_rank: int, all_ranks: bool) -> bool:
    """The rank policy: rank 0 logs; every rank does with ``all_ranks=True``."""
    return all_ranks or this_rank == 0


def check_reduce(reduce: Any) -> str:
    if reduce not in REDUCE_OPS:
        raise VizlogValueError(
            f"scalar(reduce=...): expected one of {', '.join(REDUCE_OPS)}, got {reduce!r}"
        )
    return str(reduce)


def all_reduce(value: Any, reduce: str) -> Any:
    """``value`` combined over every rank (``value`` itself when not distributed).

    A collective: every rank must call it.  It reduces a float64 copy, so the caller's tensor
    (and its autograd version) is left alone.
    """
    reduce = check_reduce(reduce)
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return value
    if is_torch_tensor(value):
        check_one_number(value, "scalar", "value")
        tensor = value.detach().reshape(1).to(torch.float64, copy=True)
    else:
        tensor = torch.tensor([to_scalar(value)], dtype=torch.float64)
    if dist.get_backend() == "nccl" and not tensor.is_cuda:
        tensor = tensor.to(torch.device("cuda", torch.cuda.current_device()))
    op = {"mean": dist.ReduceOp.SUM, "sum": dist.ReduceOp.SUM,
          "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}[reduce]
    dist.all_reduce(tensor, op=op)
    if reduce == "mean":
        tensor /= dist.get_world_size()
    return tensor
