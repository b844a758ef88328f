"""Case 7: every parameter and gradient of a large model as histograms, once per logging step.

What a user logging "all weights and gradients" pays per logging step on the CPU: vizlog's
``histogram`` against each writer's ``add_histogram``, for every parameter and gradient of a
model of about ``model_params`` parameters (a stack of linear layers, gradients from one
backward pass).  The training-thread time is the calls alone; the total adds the ``flush()``
that waits until everything is binned and written.  Steps alternate between vizlog and the
writers.
"""

from __future__ import annotations

from typing import Any

from benchmarks.common import Context, Row, alternate, median, quiet, timed_ns


def _model(params: int) -> Any:
    import torch

    layers = 8
    width = max(4, int((params / layers) ** 0.5))
    torch.manual_seed(0)
    model = torch.nn.Sequential(*(torch.nn.Linear(width, width) for _ in range(layers)))
    model(torch.randn(4, width)).square().mean().backward()
    return model


def run(ctx: Context) -> list[Row]:
    import tensorboardX
    from torch.utils.tensorboard import SummaryWriter

    import vizlog

    model = _model(ctx.sizes.model_params)
    tensors = [(f"{name}/{what}", t) for name, p in model.named_parameters()
               for what, t in (("weight", p), ("grad", p.grad))]
    count = sum(t.numel() for _, t in tensors)
    log = vizlog.Logger("tensorboard", logdir=ctx.path("model-vizlog"))
    writers = {
        "torch": SummaryWriter(log_dir=ctx.path("model-torch")),
        "tensorboardx": tensorboardX.SummaryWriter(logdir=ctx.path("model-tensorboardx")),
    }
    totals: dict[str, list[float]] = {"vizlog": [], **{name: [] for name in writers}}

    def step(name: str, write: Any, flush: Any) -> Any:
        def sample(r: int) -> float:
            call = timed_ns(lambda: [write(tag, t, r) for tag, t in tensors])
            totals[name].append(call + timed_ns(flush))
            return call
        return sample

    with quiet():
        samples = alternate(
            {"vizlog": step("vizlog", log.histogram, log.flush),
             **{name: step(name, w.add_histogram, w.flush) for name, w in writers.items()}},
            ctx.sizes.model_repeats,
        )
        log.close()
        for writer in writers.values():
            writer.close()
    call = {name: median(s) for name, s in samples.items()}
    total = {name: median(s) for name, s in totals.items()}
    faster = min(writers, key=lambda name: total[name])
    ms = 1e-6
    notes = {"values_per_step": count, "tensors_per_step": len(tensors),
             "call_ms": {k: v * ms for k, v in call.items()},
             "total_ms": {k: v * ms for k, v in total.items()}, "faster_writer": faster}
    return [
        Row(case=f"7. whole model, {count:,} values in {len(tensors)} histograms/step, "
                 "training thread",
            vizlog=call["vizlog"] * ms, raw=call[faster] * ms, unit="ms",
            ratio=call["vizlog"] / call[faster], target="(no target)", met=None, notes=notes),
        Row(case="7. whole model, total work incl. flush",
            vizlog=total["vizlog"] * ms, raw=total[faster] * ms, unit="ms",
            ratio=total["vizlog"] / total[faster], target="(no target)", met=None,
            notes=notes),
    ]
