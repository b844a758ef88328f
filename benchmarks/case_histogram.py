"""Case 3: the histogram of a large tensor, vizlog against each writer's ``add_histogram``.

vizlog's training-thread time is the call alone: it validates and takes a snapshot copy, and
the sender thread bins later.  The total (call plus the ``flush()`` that waits for the
binning and the write) is reported next to it, and against the raw writers' total (their
call plus their flush), with a plain read of the same array (its sum: the least any binning
must cost) measured in the same rounds.  The bins are then read back from the event files:
vizlog's must equal each writer's for the same data (bucket limits and counts).
"""

from __future__ import annotations

from typing import Any

from benchmarks.common import Context, Row, alternate, median, quiet, timed_ns


def _read_histogram(logdir: str, tag: str, step: int) -> Any:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(logdir, size_guidance={"histograms": 0})
    acc.Reload()
    for event in acc.Histograms(tag):
        if event.step == step:
            return event.histogram_value
    raise LookupError(f"no histogram {tag!r} at step {step} in {logdir}")


def _same_bins(a: Any, b: Any) -> bool:
    return (list(a.bucket_limit) == list(b.bucket_limit)
            and list(a.bucket) == list(b.bucket)
            and (a.min, a.max, a.num) == (b.min, b.max, b.num))


def run(ctx: Context) -> list[Row]:
    import tensorboardX
    import torch
    from torch.utils.tensorboard import SummaryWriter

    import vizlog

    values = torch.randn(ctx.sizes.hist_values, generator=torch.Generator().manual_seed(0))
    dirs = {name: ctx.path("hist-" + name) for name in ("vizlog", "torch", "tensorboardx")}
    log = vizlog.Logger("tensorboard", logdir=dirs["vizlog"])
    writers = {
        "torch": SummaryWriter(log_dir=dirs["torch"]),
        "tensorboardx": tensorboardX.SummaryWriter(logdir=dirs["tensorboardx"]),
    }
    totals: dict[str, list[float]] = {name: [] for name in dirs}
    array = values.numpy()

    def vizlog_call(r: int) -> float:
        call = timed_ns(lambda: log.histogram("weights", values, r))
        totals["vizlog"].append(call + timed_ns(log.flush))
        return call

    def raw_call(name: str) -> Any:
        writer = writers[name]

        def sample(r: int) -> float:
            call = timed_ns(lambda: writer.add_histogram("weights", values, r))
            totals[name].append(call + timed_ns(writer.flush))
            return call

        return sample

    with quiet():
        log.histogram("warm-up", values[:1000], 0)
        for writer in writers.values():
            writer.add_histogram("warm-up", values[:1000], 0)
        samples = alternate(
            {"vizlog": vizlog_call, "torch": raw_call("torch"),
             "tensorboardx": raw_call("tensorboardx"),
             "memory read": lambda r: timed_ns(array.sum)},
            ctx.sizes.repeats,
        )
        log.close()
        for writer in writers.values():
            writer.close()
    written = {name: _read_histogram(path, "weights", 0) for name, path in dirs.items()}
    same = {name: _same_bins(written["vizlog"], written[name]) for name in writers}
    call = {name: median(s) for name, s in samples.items()}
    total = {name: median(s) for name, s in totals.items()}
    read = call.pop("memory read")
    faster = min(writers, key=lambda name: call[name])
    faster_total = min(writers, key=lambda name: total[name])
    ms = 1e-6
    return [
        Row(
            case=f"3. histogram of {ctx.sizes.hist_values:,} float32, training thread",
            vizlog=call["vizlog"] * ms, raw=call[faster] * ms, unit="ms",
            ratio=call["vizlog"] / call[faster],
            target=">= 3x faster than the faster writer, same bins",
            met=call[faster] >= 3 * call["vizlog"] and all(same.values()),
            notes={
                "faster_writer": faster,
                "call_ms": {k: v * ms for k, v in call.items()},
                "same_bins_as": same,
                "buckets": len(written["vizlog"].bucket),
            },
        ),
        Row(
            case="3. histogram, total work incl. flush",
            vizlog=total["vizlog"] * ms, raw=total[faster_total] * ms, unit="ms",
            ratio=total["vizlog"] / total[faster_total],
            target=">= 3x less than the faster writer, same bins",
            met=total[faster_total] >= 3 * total["vizlog"] and all(same.values()),
            notes={"faster_writer": faster_total,
                   "total_ms": {k: v * ms for k, v in total.items()},
                   "memory_read_ms": read * ms,
                   "vizlog_total_in_memory_reads": total["vizlog"] / read},
        ),
    ]
