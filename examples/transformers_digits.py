"""Train a tiny vision transformer, built from a config (nothing downloaded), on
scikit-learn's 8x8 digits with the Hugging Face Trainer, logged by vizlog.

The line that matters:

    from vizlog.integrations.transformers import VizlogCallback
    trainer = Trainer(model, args, ..., callbacks=[VizlogCallback(backend=..., logdir=...)])

What the Trainer logs becomes scalars (``train/loss``, ``eval/loss``, ``eval/accuracy``,
``train/learning_rate``, ...); the training arguments and the model config become the run's
hyperparameters.

    python examples/transformers_digits.py
    python examples/transformers_digits.py --backend visdom --epochs 2
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything here is built locally

import numpy as np
import torch
from _common import build_parser, parse_args, where_to_look
from _data import digits
from transformers import Trainer, TrainingArguments, ViTConfig, ViTForImageClassification

from vizlog.integrations.transformers import VizlogCallback


class Digits(torch.utils.data.Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"pixel_values": self.x[i], "labels": self.y[i]}


def accuracy(prediction: Any) -> dict[str, float]:
    return {"accuracy": float((np.argmax(prediction.predictions, 1)
                               == prediction.label_ids).mean())}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = build_parser(__doc__.splitlines()[0], epochs=15, batch_size=32, lr=3e-3)
    parser.add_argument("--output-dir", default="runs/hf-output",
                        help="the Trainer's output_dir (default runs/hf-output)")
    parser.add_argument("--system-metrics", action="store_true",
                        help="also log CPU, memory and GPU use under system/")
    args = parse_args(parser, argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    data = digits(torch.device("cpu"), limit=args.limit)
    model = ViTForImageClassification(ViTConfig(  # 2x2 patches: 16 tokens per digit
        image_size=8, patch_size=2, num_channels=1, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, num_labels=10,
    ))
    training = TrainingArguments(
        output_dir=args.output_dir, num_train_epochs=args.epochs, learning_rate=args.lr,
        per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=256,
        logging_steps=5, eval_strategy="epoch", save_strategy="no", report_to="none",
        use_cpu=args.device.type == "cpu", disable_tqdm=True, seed=args.seed,
    )
    callback = VizlogCallback(args.backend, args.logdir, system_metrics=args.system_metrics)
    trainer = Trainer(model=model, args=training,
                      train_dataset=Digits(data.x_train, data.y_train),
                      eval_dataset=Digits(data.x_val, data.y_val),
                      compute_metrics=accuracy, callbacks=[callback])
    trainer.train()  # the callback closes its Logger at the end: everything is written
    result = trainer.state.log_history[-2]  # the last evaluation
    logdir = callback.logdir or ""
    print(f"validation accuracy {result['eval_accuracy']:.2%} after {args.epochs} epochs")
    for line in where_to_look((args.backend or "tensorboard").split(","), logdir):
        print(line)
    return {"val_accuracy": result["eval_accuracy"], "steps": trainer.state.global_step,
            "logdir": logdir}


if __name__ == "__main__":
    main()
