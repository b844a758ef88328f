"""Case 2: what logging adds to a training step, on every backend.

A small MLP is trained on the CPU; torch releases the GIL inside its operations, as a GPU
loop does while it waits for the device.  Each step logs five scalars and one ``scalars``
dict of three values.  The same loop runs with no logging and with vizlog in alternating
blocks (no logging, vizlog, no logging, vizlog, ..., no logging), with a raw-writer block
every few rounds (itself between no-logging blocks); a block's mean step time is one sample.
A block lasts 1.2 s (its steps are counted from the loop's speed on the machine at hand), so
that the delivery threads do inside it what they do in a run (TensorBoard's sender takes the
queued records every 0.4 s, Visdom's sends about once a second while its windows are
small), and a vizlog block ends with a flush (not timed in the step) so that it leaves no
work for the next block.  That flush does the block's last delivery out of the timing (up to
a third of TensorBoard's writing, and Visdom's sends once its windows are large enough for
a send to wait longer than a block): the background CPU below counts it.

These machines' speed drifts by several percent from one block to the next (neighbouring
blocks are alike: the drift is slow), so each vizlog block is compared with the mean of the
two no-logging blocks around it, which cancels a drift that is linear over the three blocks.
The overhead is the median of these ratios over rounds, with a bootstrap 95% interval
(resampling pairs of neighbouring rounds, which share a no-logging block) and the
quartiles.  The same run also measures what the overhead is made of, with far less noise:
the time inside the logging calls, and the CPU time the delivery thread (and, for Visdom,
the server process) spent per logged step.  Their sum over the step time is a bound: it
counts background work as if it had run on the training thread, where on a second core it
mostly does not.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.common import Context, Row, median, quiet

SCALARS = ("train/loss", "train/lr", "train/loss_half", "train/loss_double", "train/epoch")

#: the raw writer runs this many blocks, spread over the rounds (its overhead is tens of
#: percent, and a Visdom block takes half a minute: it needs no fine resolution)
RAW_BLOCKS = {"tensorboard": 10, "tensorboardx": 10, "visdom": 5}

Log = Callable[[int, tuple[float, ...], dict[str, float]], None]
Flush = Callable[[], None]
#: for one backend: raw (log, flush), vizlog (log, flush), what closes both, and the vizlog
#: side's background CPU seconds so far (its delivery threads, and a server if it has one)
Pair = tuple[tuple[Log, Flush], tuple[Log, Flush], Callable[[], None], Callable[[], float]]


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
    log, background = _with_background(
        lambda: vizlog.Logger(backend, logdir=ctx.path("loop-vizlog-" + backend)))

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

    return (raw_log, raw.flush), (vizlog_log, log.flush), close, background


def _with_background(make: Callable[[], Any], server_pid: int | None = None
                     ) -> tuple[Any, Callable[[], float]]:
    """``make()``'s Logger, and a function giving the CPU seconds of the threads it started
    (and of the server process ``server_pid``) so far."""
    import psutil

    before = set(threading.enumerate())
    log = make()
    clocks = [time.pthread_getcpuclockid(t.ident) for t in threading.enumerate()
              if t not in before and t.ident is not None]
    server = psutil.Process(server_pid) if server_pid is not None else None

    def seconds() -> float:
        total = sum(time.clock_gettime(clock) for clock in clocks)
        if server is not None:
            cpu = server.cpu_times()
            total += cpu.user + cpu.system
        return total

    return log, seconds


def _visdom_loggers(ctx: Context) -> Pair:
    import vizlog

    client = ctx.visdom_client("bench-loop-raw")
    for tag in SCALARS:
        client.line(X=np.array([-1]), Y=np.array([0.0]), win=tag, opts={"title": tag})
    client.line(X=np.array([[-1, -1, -1]]), Y=np.array([[0.0, 0.0, 0.0]]), win="loss",
                opts={"legend": ["train", "val", "test"]})
    log, background = _with_background(
        lambda: vizlog.Logger("visdom", logdir=ctx.path("loop-vizlog-visdom"),
                              server=ctx.visdom.url, env="bench-loop-vizlog"),
        server_pid=ctx.visdom.pid)

    def raw_log(step: int, values: tuple[float, ...], group: dict[str, float]) -> None:
        for tag, value in zip(SCALARS, values, strict=True):
            client.line(X=np.array([step]), Y=np.array([value]), win=tag, update="append")
        client.line(X=np.array([[step] * len(group)]), Y=np.array([list(group.values())]),
                    win="loss", update="append")

    def vizlog_log(step: int, values: tuple[float, ...], group: dict[str, float]) -> None:
        for tag, value in zip(SCALARS, values, strict=True):
            log.scalar(tag, value, step)
        log.scalars("loss", group, step)

    return (raw_log, lambda: None), (vizlog_log, log.flush), log.close, background


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


def median_interval(values: list[float], seed: int = 0, resamples: int = 2000,
                    run: int = 2) -> tuple[float, float]:
    """A bootstrap 95% interval for the median of ``values`` (seeded: the same samples give
    the same interval), resampling runs of ``run`` neighbouring values: neighbours are not
    independent when they share a no-logging block, and resampling them one by one would
    give too narrow an interval."""
    rng = random.Random(seed)
    n = len(values)
    starts = range(max(1, n - run + 1))
    medians = []
    for _ in range(resamples):
        sample: list[float] = []
        while len(sample) < n:
            first = rng.choice(starts)
            sample.extend(values[first:first + run])
        medians.append(median(sample[:n]))
    medians.sort()
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def _quartiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return ordered[len(ordered) // 4], ordered[(3 * len(ordered)) // 4]


def _run(ctx: Context) -> list[Row]:
    import torch

    model, inputs, targets, optimizer = _model()
    loss_fn = torch.nn.CrossEntropyLoss()
    counter = [0]

    def train(log: Log | None, steps: int) -> float:
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
    # Blocks of a fixed time, not steps: a block must outlast the delivery threads' rhythm
    # on a fast machine as on a slow one (120 steps were 1.2 s on one machine, 0.5 s on
    # another, where Visdom's sender never sent inside a block).
    train(None, 3)
    step_ns = min(train(None, 3) for _ in range(5))
    steps = max(3, round(ctx.sizes.loop_block_seconds * 1e9 / step_ns))
    rows = []
    rounds = max(2, ctx.sizes.loop_repeats)
    for backend, make in makers.items():
        raw_every = max(1, rounds // RAW_BLOCKS[backend])
        # One backend at a time: only its raw writer and its Logger are alive while its
        # blocks run, so the other backends' threads do not weigh on its numbers.
        with quiet():
            (raw_log, raw_flush), (viz_log, viz_flush), close, background = make()
            in_calls = [0]

            def timed_log(step: int, values: tuple[float, ...], group: dict[str, float],
                          viz_log: Log = viz_log, in_calls: list[int] = in_calls) -> None:
                begin = time.perf_counter_ns()
                viz_log(step, values, group)
                in_calls[0] += time.perf_counter_ns() - begin

            for fn, flush in ((None, None), (raw_log, raw_flush), (timed_log, viz_flush)):
                train(fn, steps)  # warm up every path once
                if flush is not None:
                    flush()
            in_calls[0] = 0
            samples: dict[str, list[float]] = {"none": [], "vizlog": [], "raw": []}
            cpu = 0.0
            before = train(None, steps)
            for r in range(rounds):
                cpu -= background()
                vizlog_block = train(timed_log, steps)
                viz_flush()  # the block's leftovers must not land in the next block
                cpu += background()
                after = train(None, steps)
                samples["vizlog"].append(vizlog_block)
                samples["none"].append((before + after) / 2)
                before = after
                if r % raw_every == raw_every // 2 or (r == rounds - 1 and not samples["raw"]):
                    samples["raw"].append(train(raw_log, steps))
                    raw_flush()
                    before = train(None, steps)  # the next vizlog block's own neighbour
            close()
        rows.append(_row(backend, samples, in_calls[0] * 1e-9, cpu, rounds * steps, steps))
    return rows


def _row(backend: str, samples: dict[str, list[float]], calls_s: float, background_s: float,
         logged_steps: int, steps: int) -> Row:
    ms, us = 1e-6, 1e-3
    ratios = [v / n for v, n in zip(samples["vizlog"], samples["none"], strict=True)]
    overhead = median(ratios)
    low, high = median_interval(ratios)
    q1, q3 = _quartiles(ratios)
    none, v, w = median(samples["none"]), median(samples["vizlog"]), median(samples["raw"])
    calls_us = 1e6 * calls_s / logged_steps
    background_us = 1e6 * background_s / logged_steps
    bound = 100 * (calls_us + background_us) / (none * us)
    return Row(
        case=f"2. training loop, 5 scalars + 1 scalars/step ({backend})",
        vizlog=v * ms, raw=w * ms, unit="ms/step", ratio=overhead,
        target="vizlog/no-logging <= 1.01", met=overhead <= 1.01,
        notes={
            "no_logging_ms_per_step": none * ms,
            "vizlog_overhead_pct": 100 * (overhead - 1),
            "vizlog_overhead_pct_95ci": [100 * (low - 1), 100 * (high - 1)],
            "vizlog_overhead_pct_quartiles": [100 * (q1 - 1), 100 * (q3 - 1)],
            "raw_overhead_pct": 100 * (w / none - 1),
            "rounds": len(ratios),
            "raw_blocks": len(samples["raw"]),
            "steps_per_block": steps,
            "in_calls_us_per_step": calls_us,
            "background_cpu_us_per_step": background_us,
            "bound_pct": bound,
        },
        shown=(f"{v * ms:.2f} ms/step ({100 * (overhead - 1):+.1f}%, 95% CI "
               f"{100 * (low - 1):+.1f} to {100 * (high - 1):+.1f}; bound {bound:.1f}%)",
               f"{w * ms:.2f} ms/step ({100 * (w / none - 1):+.1f}%)"),
    )
