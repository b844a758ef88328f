"""Train a small classifier of scikit-learn's 8x8 digits with accelerate, logged by vizlog.

The lines that matter:

    from vizlog.integrations.accelerate import VizlogTracker
    accelerator = Accelerator(log_with=VizlogTracker("digits", backend=..., logdir=...))
    accelerator.init_trackers("digits", config=vars(args))   # the run's hyperparameters
    accelerator.log({"train/loss": loss}, step=step)          # scalars
    accelerator.end_training()                                # everything written

    python examples/accelerate_digits.py
    python examples/accelerate_digits.py --backend tensorboard,visdom
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from _common import build_parser, parse_args, prepared, where_to_look
from _data import digits
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from vizlog.integrations.accelerate import VizlogTracker


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = build_parser(__doc__.splitlines()[0], epochs=10, batch_size=64, lr=0.01)
    parser.add_argument("--system-metrics", action="store_true",
                        help="also log CPU, memory and GPU use under system/")
    args = parse_args(parser, argv)
    tracker = VizlogTracker("accelerate-digits", backend=args.backend, logdir=args.logdir,
                            system_metrics=args.system_metrics)
    accelerator = Accelerator(cpu=args.device.type == "cpu", log_with=tracker)
    accelerator.init_trackers("digits", config={
        "lr": args.lr, "batch_size": args.batch_size, "epochs": args.epochs,
        "optimizer": {"name": "adam", "betas": [0.9, 0.999]},
    })
    with prepared(args) as generator:
        data = digits(torch.device("cpu"), limit=args.limit)
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        train = DataLoader(TensorDataset(data.x_train, data.y_train), args.batch_size,
                           shuffle=True, generator=generator)
        model, optimizer, train = accelerator.prepare(model, optimizer, train)
        step = 0
        for epoch in range(1, args.epochs + 1):
            model.train()
            for x, y in train:
                loss = F.cross_entropy(model(x), y)
                accelerator.backward(loss)
                optimizer.step()
                optimizer.zero_grad()
                step += 1
                accelerator.log({"train/loss": loss.detach()}, step=step)  # no .item() here
            model.eval()
            with torch.no_grad():
                x_val, y_val = data.x_val.to(accelerator.device), data.y_val.to(accelerator.device)
                accuracy = (model(x_val).argmax(1) == y_val).float().mean().item()
            accelerator.log({"val/accuracy": accuracy, "epoch": epoch}, step=step)
        tracker.log_images({"inputs": data.x_val[:16].numpy()}, step=step,
                           dataformats="NCHW")
    accelerator.end_training()
    print(f"validation accuracy {accuracy:.2%} after {args.epochs} epochs")
    for line in where_to_look((args.backend or "tensorboard").split(","), tracker.logdir):
        print(line)
    return {"val_accuracy": accuracy, "steps": step, "logdir": tracker.logdir}


if __name__ == "__main__":
    main()
