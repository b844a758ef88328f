"""Case 2: what logging adds to a training step, on every backend.

A small MLP is trained on the CPU; torch releases the GIL inside its operations, as a GPU
loop does while it waits for the device.  Each step logs five scalars and one ``scalars``
dict of three values.  The same loop runs with no logging, with the raw writer and with
vizlog, in alternating blocks; a block's mean step time is one sample and the table shows
the median over blocks.  Each block ends with a flush (not timed in the step) so that no
variant leaves work behind for the next one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.common import Context, Row, alternate, median, quiet, timed_ns

SCALARS = ("train/loss", "train/lr", "train/loss_half", "train/loss_double", "train/epoch")

Log = Callable[[int, tuple[float, ...], dict[str, float]], None]
Flush = Callable[[], None]
#: for one backend: raw (log, flush), vizlog (log, flush), and what closes both
Pair = tuple[tuple[Log, Flush], tuple[Log, Flush], Callable[[], None]]


def _model() -> tuple[Any, Any, Any, Any]:
    import torch

    gen = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(256, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 10),
    )
    inputs = torch.randn(256, 256, generator=gen)
    targets = torch.randint(0, 10, (256,), generator=gen)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    return model, inputs, targets, optimizer


def _writer_loggers(ctx: Context, backend: str) -> Pair:
    import vizlog

    if backend == "tensorboard":
        from torch.utils.tensorboard import SummaryWriter

        raw = SummaryWriter(log_dir=ctx.path("loop-raw-" + backend))
    else:
        from tensorboardX import SummaryWriter as XWriter

        raw = XWriter(logdir=ctx.path("loop-raw-" + backend))
    log = vizlog.Logger(backend, logdir=ctx.path("loop-vizlog-" + backend))

    def raw_log(step: int, values: tuple[float, ...], group: dict[str, float]) -> None:
        for tag, value in zip(SCALARS, values, strict=True):
            raw.add_scalar(tag, value, step)
        raw.add_scalars("loss", group, step)

    def vizlog_log(step: int, values: tuple[float, ...], group: dict[str, float]) -> None:
        for tag, value in zip(SCALARS, values, strict=True):
            log.scalar(tag, value, step)
        log.scalars("loss", group, step)

    def close() -> None:
        raw.close()
        log.close()

    return (raw_log, raw.flush), (vizlog_log, log.flush), close


def _visdom_loggers(ctx: Context) -> Pair:
    import vizlog

    client = ctx.visdom_client("bench-loop-raw")
    for tag in SCALARS:
        client.line(X=np.array([-1]), Y=np.array([0.0]), win=tag, opts={"title": tag})
    client.line(X=np.array([[-1, -1, -1]]), Y=np.array([[0.0, 0.0, 0.0]]), win="loss",
                opts={"legend": ["train", "val", "test"]})
    log = vizlog.Logger("visdom", logdir=ctx.path("loop-vizlog-visdom"), server=ctx.visdom.url,
                        env="bench-loop-vizlog")

    def raw_log(step: int, values: tuple[float, ...], group: dict[str, float]) -> None:
        for tag, value in zip(SCALARS, values, strict=True):
            client.line(X=np.array([step]), Y=np.array([value]), win=tag, update="append")
        client.line(X=np.array([[step] * len(group)]), Y=np.array([list(group.values())]),
                    win="loss", update="append")

    def vizlog_log(step: int, values: tuple[float, ...], group: dict[str, float]) -> None:
        for tag, value in zip(SCALARS, values, strict=True):
            log.scalar(tag, value, step)
        log.scalars("loss", group, step)

    return (raw_log, lambda: None), (vizlog_log, log.flush), log.close


def run(ctx: Context) -> list[Row]:
    import torch

    threads = torch.get_num_threads()
    # One compute thread: a GPU loop leaves the host's cores to Python, and two OpenMP
    # threads on two shared cores make step times swing tenfold from block to block.
    torch.set_num_threads(1)
    try:
        return _run(ctx)
    finally:
        torch.set_num_threads(threads)


def _run(ctx: Context) -> list[Row]:
    import torch

    model, inputs, targets, optimizer = _model()
    loss_fn = torch.nn.CrossEntropyLoss()
    steps = ctx.sizes.loop_steps
    counter = [0]

    def train(log: Log | None) -> float:
        """One block of steps; returns the mean step time in ns."""
        begin = time.perf_counter_ns()
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            value = loss.item()
            step = counter[0]
            counter[0] += 1
            if log is not None:
                log(step, (value, 0.01, value / 2, value * 2, step / 100.0),
                    {"train": value, "val": value * 1.1, "test": value * 1.2})
        return (time.perf_counter_ns() - begin) / steps

    makers: dict[str, Callable[[], Pair]] = {
        "tensorboard": lambda: _writer_loggers(ctx, "tensorboard"),
        "tensorboardx": lambda: _writer_loggers(ctx, "tensorboardx"),
        "visdom": lambda: _visdom_loggers(ctx),
    }
    rows = []
    ms = 1e-6
    for backend, make in makers.items():
        # One backend at a time: only its raw writer and its Logger are alive while its
        # blocks run, so the other backends' threads do not weigh on its numbers.
        with quiet():
            raw_pair, vizlog_pair, close = make()
            flushes: dict[str, list[float]] = {"raw": [], "vizlog": []}
            variants: dict[str, Callable[[int], float]] = {"none": lambda r: train(None)}
            for kind, (fn, flush) in (("raw", raw_pair), ("vizlog", vizlog_pair)):

                def block(r: int, fn: Log = fn, flush: Flush = flush,
                          flush_times: list[float] = flushes[kind]) -> float:
                    mean = train(fn)
                    # the block's leftovers must not land in the next variant's block
                    flush_times.append(timed_ns(flush))
                    return mean

                variants[kind] = block
            for variant in variants.values():  # warm up every path once
                variant(-1)
            for values in flushes.values():
                values.clear()
            samples = alternate(variants, max(2, ctx.sizes.loop_repeats))
            close()
        none = median(samples["none"])
        v, w = median(samples["vizlog"]), median(samples["raw"])
        rows.append(Row(
            case=f"2. training loop, 5 scalars + 1 scalars/step ({backend})",
            vizlog=v * ms, raw=w * ms, unit="ms/step", ratio=v / none,
            target="vizlog/no-logging <= 1.03", met=v <= 1.03 * none,
            notes={
                "no_logging_ms_per_step": none * ms,
                "vizlog_overhead_pct": 100 * (v / none - 1),
                "raw_overhead_pct": 100 * (w / none - 1),
                "steps_per_block": steps,
                "torch_threads": torch.get_num_threads(),
                "vizlog_flush_ms_per_block": median(flushes["vizlog"]) * ms,
            },
            shown=(f"{v * ms:.2f} ms/step ({100 * (v / none - 1):+.1f}%)",
                   f"{w * ms:.2f} ms/step ({100 * (w / none - 1):+.1f}%)"),
        ))
    return rows
