"""Train a small classifier of scikit-learn's 8x8 digits with ignite, logged by vizlog.

``VizlogLogger`` is shaped like ignite's ``TensorboardLogger``: the same ``attach_*`` calls
and handlers, on any vizlog backend (histograms in Visdom included).

    from vizlog.integrations.ignite import VizlogLogger, WeightsHistHandler
    vl = VizlogLogger(backend=..., logdir=...)
    vl.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="train",
                             output_transform=lambda loss: {"loss": loss})

    python examples/ignite_digits.py
    python examples/ignite_digits.py --backend visdom
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from _common import build_parser, device_batches, parse_args, prepared, where_to_look
from _data import digits
from ignite.engine import Events, create_supervised_evaluator, create_supervised_trainer
from ignite.metrics import Accuracy, Loss
from torch import nn

from vizlog.integrations.ignite import (
    GradsHistHandler,
    GradsScalarHandler,
    VizlogLogger,
    WeightsHistHandler,
    WeightsScalarHandler,
    global_step_from_engine,
)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = build_parser(__doc__.splitlines()[0], epochs=10, batch_size=64, lr=0.01)
    parser.add_argument("--system-metrics", action="store_true",
                        help="also log CPU, memory and GPU use under system/")
    args = parse_args(parser, argv)
    device = args.device
    with prepared(args) as generator:
        data = digits(device, limit=args.limit)
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(),
                              nn.Linear(32, 10)).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        loss_fn = nn.CrossEntropyLoss()
        train = device_batches((data.x_train, data.y_train), args.batch_size, generator)
        val = device_batches((data.x_val, data.y_val), 256, None)
        trainer = create_supervised_trainer(model, optimizer, loss_fn, device=device)
        evaluator = create_supervised_evaluator(
            model, metrics={"accuracy": Accuracy(), "loss": Loss(loss_fn)}, device=device)
        trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda _: evaluator.run(val))

        with VizlogLogger(args.backend, args.logdir,
                          system_metrics=args.system_metrics) as vl:
            vl.hparams({"lr": args.lr, "batch_size": args.batch_size, "epochs": args.epochs})
            vl.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="train",
                                     output_transform=lambda loss: {"loss": loss})
            vl.attach_output_handler(evaluator, Events.EPOCH_COMPLETED, tag="val",
                                     metric_names="all",
                                     global_step_transform=global_step_from_engine(trainer))
            vl.attach_opt_params_handler(trainer, Events.ITERATION_STARTED, optimizer=optimizer)
            vl.attach(trainer, WeightsScalarHandler(model), Events.ITERATION_COMPLETED)
            vl.attach(trainer, GradsScalarHandler(model), Events.ITERATION_COMPLETED)
            vl.attach(trainer, WeightsHistHandler(model), Events.EPOCH_COMPLETED)
            vl.attach(trainer, GradsHistHandler(model), Events.EPOCH_COMPLETED)
            trainer.run(train, max_epochs=args.epochs)
    accuracy = float(evaluator.state.metrics["accuracy"])
    print(f"validation accuracy {accuracy:.2%} after {args.epochs} epochs")
    for line in where_to_look(vl.backends, vl.logdir):
        print(line)
    return {"val_accuracy": accuracy, "steps": trainer.state.iteration, "logdir": vl.logdir,
            "backends": vl.backends}


if __name__ == "__main__":
    main()
