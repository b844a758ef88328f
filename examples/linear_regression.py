"""Fit the classic linear model ``y = Wx + b`` with SGD on scikit-learn's diabetes data.

The smallest useful training loop: the loss of every step and histograms of the weight and
the bias at every step (watch the weight distribution spread out from its initial values
and settle), the validation loss and R^2 per epoch, and the learned coefficients next to
the exact least-squares solution at the end.

    python examples/linear_regression.py
    python examples/linear_regression.py --backend visdom --epochs 20
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from _common import (
    MixedPrecision,
    build_parser,
    device_batches,
    parse_args,
    prepared,
    progress,
    where_to_look,
)
from _data import Split, diabetes
from torch import nn

import vizlog

EPOCHS = 30
BATCH_SIZE = 32
LR = 0.05


def r_squared(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Share of the target's variance the model explains (1 is perfect, 0 is the mean)."""
    residual = ((target - prediction) ** 2).sum()
    total = ((target - target.mean()) ** 2).sum()
    return 1 - residual / total


def least_squares(data: Split) -> torch.Tensor:
    """The exact answer SGD is walking towards: ``[W | b]`` from ``lstsq`` on the train set."""
    x = data.x_train.double()
    design = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
    return torch.linalg.lstsq(design.cpu(), data.y_train.double().cpu()).solution.flatten()


def coefficients_text(model: nn.Linear, data: Split) -> str:
    """A Markdown table of the learned and the exact coefficients, one row per feature."""
    exact = least_squares(data).tolist()
    learned = [*model.weight.detach().flatten().tolist(), *model.bias.detach().tolist()]
    names = [*data.names, "bias"]
    lines = ["| feature | SGD | least squares |", "|---|---|---|"]
    lines += [
        f"| {name} | {sgd:+.4f} | {best:+.4f} |"
        for name, sgd, best in zip(names, learned, exact, strict=True)
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Train, log, print where the logs went; returns the final metrics."""
    parser = build_parser(
        "Fit y = Wx + b with SGD on scikit-learn's diabetes data, logging with vizlog.",
        epochs=EPOCHS,
        batch_size=BATCH_SIZE,
        lr=LR,
    )
    args = parse_args(parser, argv)
    device = args.device
    started = time.perf_counter()
    with (
        prepared(args) as generator,
        vizlog.Logger(backend=args.backend, logdir=args.logdir) as log,
    ):
        data = diabetes(device, limit=args.limit)
        model = nn.Linear(data.x_train.shape[1], 1).to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
        amp = MixedPrecision(device)
        batches = device_batches((data.x_train, data.y_train), args.batch_size, generator)

        step = 0
        for _epoch in progress(range(args.epochs), desc="linear", unit="epoch"):
            for x, y in batches:
                with amp.autocast():
                    loss = F.mse_loss(model(x).float(), y)
                amp.step(loss, optimizer)
                step += 1
                log.scalar("loss", loss.detach(), step=step)
                log.histogram("weight", model.weight.detach(), step=step)
                log.histogram("bias", model.bias.detach(), step=step)
            with torch.no_grad():
                prediction = model(data.x_val).float()
            val_loss = F.mse_loss(prediction, data.y_val)
            val_r2 = r_squared(prediction, data.y_val)
            log.scalar("val/loss", val_loss, step=step)
            log.scalar("val/r2", val_r2, step=step)

        log.text("coefficients", coefficients_text(model, data), step=step)
        metrics: dict[str, Any] = {
            "val_loss": val_loss.item(),
            "val_r2": val_r2.item(),
            "last_step_loss": loss.item(),
            "steps": step,
            "epochs": args.epochs,
            "train_size": len(data.y_train),
            "val_size": len(data.y_val),
            "device": str(device),
        }
    metrics["seconds"] = time.perf_counter() - started
    metrics["logdir"] = log.logdir
    metrics["backends"] = tuple(log.backends)

    print(
        f"validation R^2 {metrics['val_r2']:.3f} after {args.epochs} epochs "
        f"({metrics['seconds']:.1f} s on {device})"
    )
    for line in where_to_look(metrics["backends"], metrics["logdir"]):
        print(line)
    return metrics


if __name__ == "__main__":
    main()
