"""A tensorboardX training script moved to vizlog by changing nothing but its import line.

``train`` below is written the way tensorboardX users write it: ``SummaryWriter(logdir)``,
``add_scalar``, ``add_histogram``, ``add_image``, ``add_text``, ``close``.  Swapping the import
keeps every call working and lets ``VIZLOG_BACKEND`` (or ``--backend`` here) send the same
run to TensorBoard, Visdom, or both.

    python examples/drop_in_summarywriter.py
    VIZLOG_BACKEND=tensorboard,visdom python examples/drop_in_summarywriter.py
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
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
from _data import digits
from torch import nn

# from tensorboardX import SummaryWriter
from vizlog import SummaryWriter

EPOCHS = 10
BATCH_SIZE = 32
LR = 0.05
HIDDEN = 32


def first_layer_image(weight: torch.Tensor) -> torch.Tensor:
    """The first layer's 32 units, each an 8x8 weight pattern, tiled 4x8 into one CHW image."""
    tiles = weight.detach().reshape(4, 8, 8, 8).permute(0, 2, 1, 3).reshape(1, 32, 64)
    low, high = tiles.min(), tiles.max()
    return (tiles - low) / (high - low + 1e-12)


def train(
    logdir: str | None,
    epochs: int,
    batch_size: int,
    lr: float,
    device: torch.device,
    generator: torch.Generator,
    limit: int | None = None,
) -> tuple[dict[str, Any], Any]:
    """The "existing script": a two-layer MLP on flattened digits, logged tensorboardX-style."""
    data = digits(device, limit=limit)
    x_train, x_val = data.x_train.flatten(1), data.x_val.flatten(1)
    model = nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    amp = MixedPrecision(device)
    batches = device_batches((x_train, data.y_train), batch_size, generator)

    writer = SummaryWriter(logdir)
    writer.add_text(
        "hparams", f"epochs={epochs} batch_size={batch_size} lr={lr} hidden={HIDDEN}", 0
    )
    n_iter = 0
    for epoch in progress(range(epochs), desc="drop-in", unit="epoch"):
        for x, y in batches:
            with amp.autocast():
                loss = F.cross_entropy(model(x), y)
            amp.step(loss, optimizer)
            writer.add_scalar("Loss/train", loss.detach(), n_iter)
            n_iter += 1
        with torch.no_grad():
            logits = model(x_val).float()
        val_loss = F.cross_entropy(logits, data.y_val)
        accuracy = (logits.argmax(dim=1) == data.y_val).float().mean()
        writer.add_scalar("Loss/val", val_loss, epoch)
        writer.add_scalar("Accuracy/val", accuracy, epoch)
        for name, param in model.named_parameters():
            writer.add_histogram(name, param.detach(), epoch)
        writer.add_image("first_layer", first_layer_image(model[0].weight), epoch)
    writer.add_text("result", f"validation accuracy {accuracy.item():.2%}", epochs)
    writer.close()

    metrics = {
        "val_accuracy": accuracy.item(),
        "val_loss": val_loss.item(),
        "last_step_loss": loss.item(),
        "steps": n_iter,
        "val_size": len(data.y_val),
    }
    return metrics, writer


@contextlib.contextmanager
def backend_override(backend: str | None) -> Iterator[None]:
    """``--backend`` for a script that cannot pass one: set ``VIZLOG_BACKEND`` while it runs."""
    saved = os.environ.get("VIZLOG_BACKEND")
    if backend is not None:
        os.environ["VIZLOG_BACKEND"] = backend
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("VIZLOG_BACKEND", None)
        else:
            os.environ["VIZLOG_BACKEND"] = saved


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the unchanged training function under the shared flags; returns its metrics."""
    parser = build_parser(
        "A tensorboardX-style script that logs through vizlog's SummaryWriter.",
        epochs=EPOCHS,
        batch_size=BATCH_SIZE,
        lr=LR,
    )
    args = parse_args(parser, argv)
    started = time.perf_counter()
    with backend_override(args.backend), prepared(args) as generator:
        metrics, writer = train(
            args.logdir, args.epochs, args.batch_size, args.lr, args.device, generator, args.limit
        )
    logdir, backends = writer.logdir, tuple(writer.logger.backends)
    metrics.update(
        seconds=time.perf_counter() - started,
        epochs=args.epochs,
        device=str(args.device),
        logdir=logdir,
        backends=backends,
    )
    print(
        f"validation accuracy {metrics['val_accuracy']:.2%} after {args.epochs} epochs "
        f"({metrics['seconds']:.1f} s on {args.device})"
    )
    for line in where_to_look(backends, logdir):
        print(line)
    return metrics


if __name__ == "__main__":
    main()
