"""Case 7: what the system metrics sampler costs a logging call.

Each block makes a fresh Logger (TensorBoard backend), with the sampler at its shortest
interval (1 s) or without it, and times ``log.scalar`` calls in batches of ``scalar_batch``
(the ``flush()`` after each batch is not timed, as in case 1) until the block has lasted
``system_block_seconds``, so that the sampler really samples during the "on" blocks.  Blocks
alternate, so the sampler of one block never runs during the other's; the ratio is on / off.
"""

from __future__ import annotations

import time

from benchmarks.common import Context, Row, alternate, median, per_call_ns, quiet

INTERVAL = 1.0


def _block(ctx: Context, sampler: bool, counts: list[int]) -> float:
    import vizlog

    log = vizlog.Logger("tensorboard", logdir=ctx.path("system-on" if sampler else "system-off"),
                        system_metrics=sampler, system_interval=INTERVAL)
    n = ctx.sizes.scalar_batch
    costs: list[float] = []
    begin = time.monotonic()
    while time.monotonic() - begin < ctx.sizes.system_block_seconds:
        start = len(costs) * n
        costs.append(per_call_ns(lambda i: log.scalar("loss", 0.25, i), n, start=start))
        log.flush()
    if log._sampler is not None:
        counts.append(log._sampler.samples)
    log.close()
    return sum(costs) / len(costs)


def run(ctx: Context) -> list[Row]:
    counts: list[int] = []
    with quiet():
        _block(ctx, False, [])  # warm up: imports, first file
        samples = alternate({"on": lambda r: _block(ctx, True, counts),
                             "off": lambda r: _block(ctx, False, [])}, ctx.sizes.repeats)
    on, off = median(samples["on"]), median(samples["off"])
    return [Row(
        case="9. scalar with the system metrics sampler on (tensorboard)",
        vizlog=on, raw=off, unit="ns/call", ratio=on / off,
        target="ratio <= 1.05 (no measurable cost)", met=on <= 1.05 * off,
        notes={"baseline": "the same Logger without the sampler",
               "interval_s": INTERVAL, "block_s": ctx.sizes.system_block_seconds,
               "samples_per_on_block": counts, "batch_calls": ctx.sizes.scalar_batch,
               "on_blocks_ns": samples["on"], "off_blocks_ns": samples["off"]},
    )]
