"""Case 1: what one scalar costs the training thread, vizlog against each raw writer.

vizlog's cost is the time inside ``log.scalar`` (the writing happens on the sender thread);
the ``flush()`` that follows each timed batch is timed apart and reported per call too, so
the reader sees the whole work, but it is not in the ratio.  The raw writers' own ``flush``
is reported the same way.
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import Context, Row, alternate, median, per_call_ns, quiet, timed_ns


def _tensorboard_row(ctx: Context, backend: str) -> Row:
    import vizlog

    if backend == "tensorboard":
        from torch.utils.tensorboard import SummaryWriter

        raw = SummaryWriter(log_dir=ctx.path("raw-" + backend))
    else:
        from tensorboardX import SummaryWriter as XWriter

        raw = XWriter(logdir=ctx.path("raw-" + backend))
    log = vizlog.Logger(backend, logdir=ctx.path("vizlog-" + backend))
    n = ctx.sizes.scalar_batch
    flushes: dict[str, list[float]] = {"vizlog": [], "raw": []}

    def vizlog_batch(r: int) -> float:
        cost = per_call_ns(lambda i: log.scalar("loss", 0.25, i), n, start=r * n)
        flushes["vizlog"].append(timed_ns(log.flush) / n)
        return cost

    def raw_batch(r: int) -> float:
        cost = per_call_ns(lambda i: raw.add_scalar("loss", 0.25, i), n, start=r * n)
        flushes["raw"].append(timed_ns(raw.flush) / n)
        return cost

    with quiet():
        vizlog_batch(-1), raw_batch(-1)  # warm up: imports, first file, first protobuf
        for values in flushes.values():
            values.clear()
        samples = alternate({"vizlog": vizlog_batch, "raw": raw_batch}, ctx.sizes.repeats)
        log.close()
        raw.close()
    v, w = median(samples["vizlog"]), median(samples["raw"])
    return Row(
        case=f"1. scalar, training thread ({backend})",
        vizlog=v, raw=w, unit="ns/call", ratio=v / w,
        target="ratio <= 1 (aim 0.5)", met=v <= w,
        notes={
            "batch_calls": n,
            "vizlog_flush_ns_per_call": median(flushes["vizlog"]),
            "raw_flush_ns_per_call": median(flushes["raw"]),
            "vizlog_total_ns_per_call": v + median(flushes["vizlog"]),
            "raw_total_ns_per_call": w + median(flushes["raw"]),
        },
    )


def _visdom_row(ctx: Context) -> Row:
    import vizlog

    client = ctx.visdom_client("bench-scalar-raw")
    client.line(X=np.array([-1]), Y=np.array([0.25]), win="loss")  # the window exists
    log = vizlog.Logger("visdom", logdir=ctx.path("vizlog-visdom"), server=ctx.visdom.url,
                        env="bench-scalar-vizlog")
    n, n_raw = ctx.sizes.scalar_batch, ctx.sizes.visdom_raw_batch
    flushes: list[float] = []

    def vizlog_batch(r: int) -> float:
        cost = per_call_ns(lambda i: log.scalar("loss", 0.25, i), n, start=r * n)
        flushes.append(timed_ns(log.flush) / n)
        return cost

    def raw_batch(r: int) -> float:
        return per_call_ns(
            lambda i: client.line(X=np.array([i]), Y=np.array([0.25]), win="loss",
                                  update="append"),
            n_raw, start=r * n_raw,
        )

    with quiet():
        vizlog_batch(-1), raw_batch(-1)
        flushes.clear()
        samples = alternate({"vizlog": vizlog_batch, "raw": raw_batch}, ctx.sizes.repeats)
        log.close()
    v, w = median(samples["vizlog"]), median(samples["raw"])
    return Row(
        case="1. scalar, training thread (visdom)",
        vizlog=v, raw=w, unit="ns/call", ratio=v / w,
        target="ratio <= 0.01", met=v <= w / 100,
        notes={
            "batch_calls": n, "raw_batch_calls": n_raw,
            "raw_call": 'Visdom.line(update="append") on a local server',
            "vizlog_flush_ns_per_call": median(flushes),
            "vizlog_total_ns_per_call": v + median(flushes),
        },
    )


def run(ctx: Context) -> list[Row]:
    return [_tensorboard_row(ctx, "tensorboard"), _tensorboard_row(ctx, "tensorboardx"),
            _visdom_row(ctx)]
