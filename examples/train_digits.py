"""Train a small convolutional classifier on the 8x8 digits that ship with scikit-learn.

Everything vizlog can show comes from one real training run: the loss of every step, train
and validation loss on one chart, accuracy, learning rate, weight and gradient histograms,
the inputs and the misclassified digits, a precision-recall curve per digit, the model graph,
an embedding of the learned features and a summary of the run.

    python examples/train_digits.py                       # default backend (or: make demo)
    python examples/train_digits.py --backend tensorboard,visdom --epochs 5
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
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
from _data import Split, digits
from torch import nn

import vizlog

EPOCHS = 12
BATCH_SIZE = 64
LR = 3e-3
GRID = 64  # images per logged grid


class DigitsNet(nn.Module):
    """Two 3x3 convolutions and a small head: enough for 8x8 digits, quick on a CPU.

    ``features`` ends in the penultimate layer, whose output is what the embedding shows.
    """

    def __init__(self, classes: int = 10, width: int = 64) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, width),
            nn.ReLU(),
        )
        self.classifier = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@dataclass(frozen=True)
class Evaluation:
    loss: torch.Tensor
    accuracy: torch.Tensor
    predictions: torch.Tensor
    probabilities: torch.Tensor
    features: torch.Tensor


def evaluate(model: DigitsNet, x: torch.Tensor, y: torch.Tensor, amp: MixedPrecision) -> Evaluation:
    """One pass over the whole validation set (it is small), keeping the penultimate features."""
    model.eval()
    with torch.no_grad(), amp.autocast():
        features = model.features(x)
        logits = model.classifier(features)
    model.train()
    logits = logits.float()
    probabilities = logits.softmax(dim=1)
    predictions = probabilities.argmax(dim=1)
    return Evaluation(
        loss=F.cross_entropy(logits, y),
        accuracy=(predictions == y).float().mean(),
        predictions=predictions,
        probabilities=probabilities,
        features=features.float(),
    )


def enlarge(images: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """Nearest-neighbour upscaling: an 8x8 digit is too small to read in a grid."""
    return F.interpolate(images, scale_factor=factor, mode="nearest")


def log_epoch(
    log: vizlog.Logger,
    epoch: int,
    model: nn.Module,
    data: Split,
    train_loss: torch.Tensor,
    val: Evaluation,
    lr: float,
) -> None:
    log.scalars("loss", {"train": train_loss, "val": val.loss}, step=epoch)
    log.scalar("val/accuracy", val.accuracy, step=epoch)
    log.scalar("lr", lr, step=epoch)
    for name, parameter in model.named_parameters():
        log.histogram(f"weights/{name}", parameter.detach(), step=epoch)
        if parameter.grad is not None:
            log.histogram(f"grads/{name}", parameter.grad, step=epoch)
    wrong = val.predictions != data.y_val
    if bool(wrong.any()):
        log.image("images/misclassified", enlarge(data.x_val[wrong][:GRID]), step=epoch)
    for index, name in enumerate(data.names):
        log.pr_curve(
            f"pr/digit_{name}", data.y_val == index, val.probabilities[:, index], step=epoch
        )


def summary_text(args: Any, metrics: dict[str, Any]) -> str:
    """A Markdown table (the TensorBoard TEXT tab renders it) of the settings and results."""
    rows = [
        ("epochs", args.epochs),
        ("batch size", args.batch_size),
        ("learning rate", f"{args.lr:g} (Adam, cosine annealing)"),
        ("seed", args.seed),
        ("device", metrics["device"]),
        ("training samples", metrics["train_size"]),
        ("validation samples", metrics["val_size"]),
        ("final train loss", f"{metrics['train_loss']:.4f}"),
        ("final validation loss", f"{metrics['val_loss']:.4f}"),
        ("final validation accuracy", f"{metrics['val_accuracy']:.2%}"),
    ]
    lines = ["| setting | value |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Train, log, print where the logs went; returns the final metrics."""
    parser = build_parser(
        "Train a small CNN on scikit-learn's 8x8 digits, logging with vizlog.",
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
        data = digits(device, limit=args.limit)
        model = DigitsNet(classes=len(data.names)).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
        amp = MixedPrecision(device)
        batches = device_batches((data.x_train, data.y_train), args.batch_size, generator)
        log.graph(model, data.x_val[:1])

        step = 0
        epochs = progress(range(1, args.epochs + 1), desc="digits", unit="epoch")
        for epoch in epochs:
            lr = scheduler.get_last_lr()[0]
            loss_sum = torch.zeros((), device=device)
            for index, (x, y) in enumerate(batches):
                with amp.autocast():
                    loss = F.cross_entropy(model(x), y)
                amp.step(loss, optimizer)
                step += 1
                log.scalar("train/loss", loss.detach(), step=step)
                loss_sum += loss.detach() * len(y)
                if index == 0:
                    log.image("images/inputs", enlarge(x[:GRID]), step=epoch)
            scheduler.step()
            val = evaluate(model, data.x_val, data.y_val, amp)
            train_loss = loss_sum / len(data.y_train)
            log_epoch(log, epoch, model, data, train_loss, val, lr)
            if hasattr(epochs, "set_postfix"):
                epochs.set_postfix(
                    loss=f"{train_loss.item():.3f}", acc=f"{val.accuracy.item():.3f}"
                )

        metrics: dict[str, Any] = {
            "val_accuracy": val.accuracy.item(),
            "val_loss": val.loss.item(),
            "train_loss": train_loss.item(),
            "last_step_loss": loss.item(),
            "steps": step,
            "epochs": args.epochs,
            "train_size": len(data.y_train),
            "val_size": len(data.y_val),
            "device": str(device),
        }
        metadata = [
            [data.names[label], data.names[predicted]]
            for label, predicted in zip(data.y_val.tolist(), val.predictions.tolist(), strict=True)
        ]
        log.embedding(
            val.features,
            metadata=metadata,
            metadata_header=["label", "predicted"],
            label_img=enlarge(data.x_val),
            step=args.epochs,
            tag="val_features",
        )
        log.text("summary", summary_text(args, metrics), step=args.epochs)
    metrics["seconds"] = time.perf_counter() - started
    metrics["logdir"] = log.logdir
    metrics["backends"] = tuple(log.backends)

    print(
        f"validation accuracy {metrics['val_accuracy']:.2%} after {args.epochs} epochs "
        f"({metrics['seconds']:.1f} s on {device})"
    )
    for line in where_to_look(metrics["backends"], metrics["logdir"]):
        print(line)
    return metrics


if __name__ == "__main__":
    main()
