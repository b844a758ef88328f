"""Train a small classifier of scikit-learn's 8x8 digits with Lightning, logged by vizlog.

The three lines that matter:

    from vizlog.integrations.lightning import VizlogLogger
    logger = VizlogLogger(backend=args.backend, logdir=args.logdir)
    trainer = lightning.Trainer(logger=logger, ...)

``self.log(...)`` in the module becomes vizlog scalars, ``save_hyperparameters()`` the run's
hyperparameters, ``example_input_array`` its graph, and ``self.logger.experiment`` is the
``vizlog.Logger`` (here: a histogram of the first layer's weights every epoch).

    python examples/lightning_digits.py
    python examples/lightning_digits.py --backend visdom --system-metrics
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from _common import build_parser, device_batches, parse_args, prepared, where_to_look
from _data import digits
from lightning.pytorch import LightningModule, Trainer
from torch import nn

from vizlog.integrations.lightning import VizlogLogger


class DigitsModule(LightningModule):
    def __init__(self, lr: float = 0.01, hidden: int = 32) -> None:
        super().__init__()
        self.save_hyperparameters()  # -> the run's hyperparameters
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 10))
        self.example_input_array = torch.zeros(1, 1, 8, 8)  # -> the run's graph

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train/loss", loss, on_step=True, on_epoch=False)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.log("val/loss", F.cross_entropy(logits, y))
        self.log("val/accuracy", (logits.argmax(1) == y).float().mean())

    def on_train_epoch_end(self) -> None:
        # anything vizlog.Logger does, through the logger's experiment
        self.logger.experiment.histogram("weights/first_layer", self.net[1].weight,
                                         step=self.current_epoch)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = build_parser(__doc__.splitlines()[0], epochs=10, batch_size=64, lr=0.01)
    parser.add_argument("--system-metrics", action="store_true",
                        help="also log CPU, memory and GPU use under system/")
    args = parse_args(parser, argv)
    with prepared(args) as generator:
        data = digits(torch.device("cpu"), limit=args.limit)
        train = device_batches((data.x_train, data.y_train), args.batch_size, generator)
        val = device_batches((data.x_val, data.y_val), 256, None)
        logger = VizlogLogger(args.backend, args.logdir, system_metrics=args.system_metrics)
        trainer = Trainer(
            max_epochs=args.epochs, logger=logger, log_every_n_steps=1,
            accelerator={"cuda": "gpu"}.get(args.device.type, args.device.type), devices=1,
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        )
        model = DigitsModule(lr=args.lr)
        trainer.fit(model, train, val)  # finalize() at the end closes the Logger
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    metrics.update(steps=trainer.global_step, logdir=logger.log_dir, backends=args.backend)
    print(f"validation accuracy {metrics['val/accuracy']:.2%} after {args.epochs} epochs")
    for line in where_to_look((args.backend or "tensorboard").split(","), logger.log_dir):
        print(line)
    return metrics


if __name__ == "__main__":
    main()
