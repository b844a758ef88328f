"""Every concept vizlog logs, from one small training run: an MLP on the 8x8 digits.

    python examples/every_concept.py                        # TensorBoard event files
    python examples/every_concept.py --backend visdom       # the same run in Visdom

Per step the loss; per epoch losses on one chart, weight histograms, a batch of inputs, a PR
curve, the confusion matrix as a matplotlib figure, the hidden units' weights as a video
(one frame per epoch), the loss curve as a sound, the validation features as an embedding and
as a 3-D point cloud; once the graph, a custom-scalars layout, the hyperparameters with their
metrics (TensorBoard's HParams tab shows this run with its latest accuracy) and a summary.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from _common import build_parser, device_batches, parse_args, prepared, progress, where_to_look
from _data import digits
from torch import nn

import vizlog

EPOCHS = 6
BATCH_SIZE = 32
LR = 0.05
HIDDEN = 16


def confusion_figure(predicted: torch.Tensor, truth: torch.Tensor) -> Any:
    import matplotlib

    matplotlib.use("agg")  # no display needed; vizlog renders it once to pixels
    import matplotlib.pyplot as plt

    matrix = np.zeros((10, 10), dtype=int)
    np.add.at(matrix, (truth.cpu().numpy(), predicted.cpu().numpy()), 1)
    figure, axes = plt.subplots(figsize=(3, 3), dpi=80)
    axes.imshow(matrix, cmap="Blues")
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    figure.tight_layout()
    return figure


def loss_sound(losses: list[float], rate: int = 8000) -> np.ndarray:
    """The loss curve as a tone whose pitch falls with the loss (0.1 s per step)."""
    pitch = np.repeat(200 + 600 * np.asarray(losses) / max(losses), rate // 10)
    return 0.5 * np.sin(2 * np.pi * np.cumsum(pitch) / rate)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = build_parser("Log every vizlog concept from one small training run.",
                          epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LR)
    args = parse_args(parser, argv)
    started = time.perf_counter()
    with prepared(args) as generator, vizlog.Logger(args.backend, args.logdir) as log:
        data = digits(args.device, limit=args.limit)
        x_train, x_val = data.x_train.flatten(1), data.x_val.flatten(1)
        model = nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10))
        model = model.to(args.device)
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
        hparams = {"lr": args.lr, "batch_size": args.batch_size, "hidden": HIDDEN,
                   "optimizer": "sgd"}
        log.hparams(hparams, {"val/accuracy": None})  # a metric is a scalar() tag
        log.custom_scalars({"validation": {"accuracy, 95% interval": [
            "Margin", ["val/accuracy", "val/accuracy_low", "val/accuracy_high"]]}})
        log.graph(model, x_train[:2])
        frames, losses, step = [], [], 0
        batches = device_batches((x_train, data.y_train), args.batch_size, generator)
        for epoch in progress(range(args.epochs), desc="every concept", unit="epoch"):
            for x, y in batches:
                loss = F.cross_entropy(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                log.scalar("loss/step", loss.detach(), step)
                losses.append(loss.item())
                step += 1
            with torch.no_grad():
                features = model[1](model[0](x_val))
                logits = model[2](features)
            probabilities = logits.softmax(dim=1)
            predicted = logits.argmax(dim=1)
            accuracy = (predicted == data.y_val).float().mean().item()
            spread = 1.96 * (accuracy * (1 - accuracy) / len(data.y_val)) ** 0.5
            val_loss = F.cross_entropy(logits, data.y_val)
            log.scalars("loss", {"train": loss.detach(), "val": val_loss}, epoch)
            for name, value in (("", accuracy), ("_low", accuracy - spread),
                                ("_high", accuracy + spread)):
                log.scalar(f"val/accuracy{name}", value, epoch)
            log.histogram("hidden/weight", model[0].weight.detach(), epoch)
            log.image("inputs", data.x_val[:16], epoch)
            log.pr_curve("pr/digit_0", data.y_val == 0, probabilities[:, 0], epoch)
            log.figure("confusion", confusion_figure(predicted, data.y_val), epoch)
            weights = model[0].weight.detach().reshape(HIDDEN, 1, 8, 8)
            frames.append((weights - weights.min()) / (weights.max() - weights.min() + 1e-12))
        labels = [str(int(d)) for d in data.y_val]
        log.embedding(features, metadata=labels, label_img=data.x_val, step=step,
                      tag="val_features")
        points = torch.pca_lowrank(features, q=3)[0][:, :3]
        colours = torch.tensor(np.array([[40 * (d % 5), 25 * d, 255 - 25 * d]
                                         for d in data.y_val.tolist()]))
        log.mesh("val_features_3d", points / points.abs().max(), colours, step=step)
        log.video("hidden/weights_over_epochs", torch.stack(frames, dim=1), step, fps=2)
        log.audio("loss/sound", loss_sound(losses), step, sample_rate=8000)
        log.hparams(hparams, {"val/accuracy": accuracy}, step=args.epochs)
        log.text("summary", f"validation accuracy **{accuracy:.2%}** after {args.epochs} "
                            f"epochs ({step} steps)", step)
        backends, logdir = log.backends, log.logdir
    metrics = {"val_accuracy": accuracy, "steps": step, "epochs": args.epochs,
               "seconds": time.perf_counter() - started, "backends": backends,
               "logdir": logdir}
    print(f"validation accuracy {accuracy:.2%} after {args.epochs} epochs "
          f"({metrics['seconds']:.1f} s on {args.device})")
    for line in where_to_look(backends, logdir):
        print(line)
    return metrics


if __name__ == "__main__":
    main()
