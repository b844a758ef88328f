"""What the examples share: the command line, device choice, seeding, mixed precision, progress.

Kept in one place so that each example reads as a training script and nothing else, and so
that every example behaves the same way: the same flags, the same device rules, the same
message at the end telling the user where the logs went and how to look at them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shlex
import shutil
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
import torch

T = TypeVar("T")

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def build_parser(
    description: str, *, epochs: int, batch_size: int, lr: float
) -> argparse.ArgumentParser:
    """The flags every example takes; each example only chooses its defaults."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--backend",
        default=None,
        help="vizlog backend(s), comma-separated, e.g. tensorboard,visdom "
        "(default: $VIZLOG_BACKEND, else tensorboard)",
    )
    parser.add_argument(
        "--logdir",
        default=None,
        help="where to write the run (default: $VIZLOG_LOGDIR, else runs/...)",
    )
    parser.add_argument("--epochs", type=_positive_int, default=epochs, help=f"(default {epochs})")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--device",
        choices=DEVICE_CHOICES,
        default="auto",
        help="auto picks cuda, then mps, then cpu (default auto)",
    )
    parser.add_argument(
        "--batch-size", type=_positive_int, default=batch_size, help=f"(default {batch_size})"
    )
    parser.add_argument(
        "--lr", type=_positive_float, default=lr, help=f"learning rate (default {lr})"
    )
    parser.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        help="CPU threads for torch (default 1: these models are too small to gain from more, "
        "and a free core keeps vizlog's background writer off the training thread's back)",
    )
    parser.add_argument(
        "--limit",
        type=_positive_int,
        default=None,
        help="train on the first N training samples only (quick runs)",
    )
    return parser


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def pick_device(requested: str = "auto") -> torch.device:
    """``auto``: cuda when present, else mps, else cpu; a named device must be present."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available on this machine")
    if requested == "mps" and not _mps_available():
        raise ValueError("--device mps: no MPS device is available on this machine")
    if requested not in DEVICE_CHOICES:
        raise ValueError(
            f"--device: expected one of {', '.join(DEVICE_CHOICES)}, got {requested!r}"
        )
    return torch.device(requested)


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse, then turn ``--device`` into a ``torch.device`` (a missing one is a usage error)."""
    args = parser.parse_args(argv)
    try:
        args.device = pick_device(args.device)
    except ValueError as exc:
        parser.error(str(exc))
    return args


@contextlib.contextmanager
def deterministic(seed: int, device: torch.device) -> Iterator[torch.Generator]:
    """Seed every generator and ask torch for deterministic kernels for the duration.

    Yields a CPU generator for the data order.  The global torch switches are restored on
    exit, so that running an example in-process (as the tests do) leaves no trace.
    """
    if device.type == "cuda":
        # cuBLAS is deterministic only with a fixed workspace, set before its first use.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    was_enabled = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    was_benchmark = torch.backends.cudnn.benchmark
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds CUDA and MPS too
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    try:
        yield torch.Generator().manual_seed(seed)
    finally:
        torch.use_deterministic_algorithms(was_enabled, warn_only=was_warn_only)
        torch.backends.cudnn.benchmark = was_benchmark


@contextlib.contextmanager
def prepared(args: argparse.Namespace) -> Iterator[torch.Generator]:
    """Everything a run sets up before training: CPU threads, then seeds and determinism.

    Yields the generator for the data order; torch's thread count is restored on exit.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        with deterministic(args.seed, args.device) as generator:
            yield generator
    finally:
        torch.set_num_threads(threads)


class MixedPrecision:
    """Autocast plus a GradScaler on CUDA; a transparent no-op on mps and cpu.

    ``step`` unscales the gradients before the optimizer step, so the gradients left in
    ``.grad`` (and logged as histograms) are the true ones, not the scaled ones.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.enabled = device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.enabled)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=torch.float16)

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(optimizer)
        self.scaler.step(optimizer)
        self.scaler.update()


def progress(iterable: Iterable[T], **kwargs: Any) -> Iterable[T]:
    """A tqdm bar that stays quiet when stderr is not a terminal (CI logs, tests, pipes)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=None, dynamic_ncols=True, **kwargs)


def vizlog_command() -> str:
    """How to run this environment's ``vizlog`` command from here, as a shell word.

    ``vizlog`` when that is the one on PATH; else the script's path next to this Python
    (``.venv/bin/vizlog`` after ``make demo`` in a fresh clone, where the virtualenv is not
    activated, so plain ``vizlog`` would not be found); else ``python -m vizlog``.
    """
    script = os.path.join(os.path.dirname(sys.executable), "vizlog")
    if not os.access(script, os.X_OK):
        return f"{shlex.quote(sys.executable)} -m vizlog"
    on_path = shutil.which("vizlog")
    if on_path and os.path.realpath(on_path) == os.path.realpath(script):
        return "vizlog"
    relative = os.path.relpath(script)
    return shlex.quote(script if relative.startswith("..") else relative)


def where_to_look(backends: Sequence[str], logdir: str) -> list[str]:
    """The lines printed at the end of a run: where the logs are and how to view them."""
    lines = [f"logs written to {logdir} (backends: {', '.join(backends)})"]
    vizlog = vizlog_command()
    if {"tensorboard", "tensorboardx"} & set(backends):
        lines.append(f"view them with: {vizlog} serve tensorboard --logdir {shlex.quote(logdir)}")
    if "visdom" in backends:
        from vizlog import config

        run = config.visdom_env() or os.path.basename(os.path.normpath(logdir)) or "main"
        lines.append(f"view them with: {vizlog} serve visdom   (environment {run!r})")
    if not lines[1:]:
        lines.append("nothing to view: the chosen backend keeps no logs on disk")
    return lines


def device_batches(
    tensors: Sequence[torch.Tensor], batch_size: int, generator: torch.Generator | None
) -> torch.utils.data.DataLoader:
    """Batches of tensors that already live on the device, one indexing op per batch.

    The sampler yields whole index lists, so the data never leaves the device and never goes
    through per-sample collation; ``generator`` fixes the order (None: keep the order).
    """
    from torch.utils.data import (
        BatchSampler,
        DataLoader,
        RandomSampler,
        SequentialSampler,
        TensorDataset,
    )

    dataset = TensorDataset(*tensors)
    order = (
        SequentialSampler(dataset)
        if generator is None
        else RandomSampler(dataset, generator=generator)
    )
    sampler = BatchSampler(order, batch_size=batch_size, drop_last=False)
    return DataLoader(dataset, sampler=sampler, batch_size=None)
