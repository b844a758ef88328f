"""CUDA case (runs only where ``torch.cuda.is_available()``): logging CUDA tensors must not
stop the training thread until the GPU catches up.

Before each logging call the GPU is given work (a matrix product) whose result is logged:
the raw writers read it with ``.item()`` / a host copy, so their call waits for the product;
vizlog's call only queues a copy (scalar) or the binning (histogram) on the device.  The
vizlog calls also run under ``torch.cuda.set_sync_debug_mode("error")``, which raises on any
synchronising operation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.common import Context, Row, alternate, median, quiet, timed_ns


def _skipped() -> list[Row]:
    return [Row(case="cuda. scalar and histogram of CUDA tensors", vizlog=float("nan"),
                raw=float("nan"), unit="ns/call", ratio=None,
                target="skipped: no CUDA device here", met=None)]


def _no_sync(call: Callable[[], Any]) -> bool:
    import torch

    torch.cuda.set_sync_debug_mode("error")
    try:
        call()
        return True
    except RuntimeError:
        return False
    finally:
        torch.cuda.set_sync_debug_mode("default")


def run(ctx: Context) -> list[Row]:
    import torch

    if not torch.cuda.is_available():
        return _skipped()
    from torch.utils.tensorboard import SummaryWriter

    import vizlog

    gen = torch.Generator(device="cuda").manual_seed(0)
    a = torch.randn(4096, 4096, device="cuda", generator=gen)
    values = torch.randn(ctx.sizes.hist_values, device="cuda", generator=gen)
    log = vizlog.Logger("tensorboard", logdir=ctx.path("cuda-vizlog"))
    raw = SummaryWriter(log_dir=ctx.path("cuda-raw"))
    calls = ctx.sizes.cuda_calls

    def busy() -> Any:
        return (a @ a).mean()  # queued; the host does not wait for it here

    def scalar_cost(write: Callable[[Any, int], Any]) -> Callable[[int], float]:
        def sample(r: int) -> float:
            total = 0.0
            for i in range(calls):
                loss = busy()
                total += timed_ns(lambda loss=loss, i=i: write(loss, r * calls + i))
            torch.cuda.synchronize()
            return total / calls
        return sample

    def histogram_cost(write: Callable[[Any, int], Any]) -> Callable[[int], float]:
        def sample(r: int) -> float:
            busy()
            cost = timed_ns(lambda: write(values, r))
            torch.cuda.synchronize()
            return cost
        return sample

    with quiet():
        torch.cuda.synchronize()
        scalar_ok = _no_sync(lambda: log.scalar("sync-check", busy(), 0))
        histogram_ok = _no_sync(lambda: log.histogram("sync-check", values, 0))
        log.flush()
        scalars = alternate({
            "vizlog": scalar_cost(lambda v, s: log.scalar("loss", v, s)),
            "raw": scalar_cost(lambda v, s: raw.add_scalar("loss", v, s)),
        }, ctx.sizes.repeats)
        histograms = alternate({
            "vizlog": histogram_cost(lambda v, s: log.histogram("weights", v, s)),
            "raw": histogram_cost(lambda v, s: raw.add_histogram("weights", v, s)),
        }, ctx.sizes.repeats)
        log.close()
        raw.close()
    device = torch.cuda.get_device_name(0)
    sv, sw = median(scalars["vizlog"]), median(scalars["raw"])
    hv, hw = median(histograms["vizlog"]), median(histograms["raw"])
    return [
        Row(case="cuda. scalar of a CUDA tensor behind GPU work, training thread",
            vizlog=sv, raw=sw, unit="ns/call", ratio=sv / sw,
            target="no synchronisation; ratio <= 1", met=scalar_ok and sv <= sw,
            notes={"device": device, "no_sync": scalar_ok}),
        Row(case=f"cuda. histogram of {ctx.sizes.hist_values:,} CUDA float32, training thread",
            vizlog=hv * 1e-6, raw=hw * 1e-6, unit="ms", ratio=hv / hw,
            target="no synchronisation; >= 3x faster", met=histogram_ok and hw >= 3 * hv,
            notes={"device": device, "no_sync": histogram_ok}),
    ]
