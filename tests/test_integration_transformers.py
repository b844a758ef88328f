"""``vizlog.integrations.transformers.VizlogCallback`` in a real Hugging Face ``Trainer``.

The model is built from a tiny config (nothing is downloaded: ``HF_HUB_OFFLINE=1``), trains a
few steps on random tokens with an evaluation in the middle, then ``evaluate()`` runs after
``train()`` has closed the Logger.
"""

from __future__ import annotations

import os
import warnings

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")  # the Trainer needs it
pytest.importorskip("tensorboard")

import torch  # noqa: E402
from runlogs import read_run, subruns  # noqa: E402
from transformers import (  # noqa: E402
    BertConfig,
    BertForSequenceClassification,
    Trainer,
    TrainingArguments,
)

from vizlog.integrations.transformers import VizlogCallback, tag_for  # noqa: E402

STEPS = 6


class Tokens(torch.utils.data.Dataset):
    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1, 30, (n, 8), generator=g)
        self.labels = (self.ids[:, 0] > 15).long()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def train(tmp_path, callback: VizlogCallback) -> Trainer:
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(
        vocab_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=16, max_position_embeddings=16, num_labels=2,
    ))
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=STEPS, per_device_train_batch_size=4,
        per_device_eval_batch_size=4, learning_rate=1e-3, logging_steps=1,
        eval_strategy="steps", eval_steps=3, save_strategy="no", report_to="none",
        use_cpu=True, disable_tqdm=True, seed=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=Tokens(24, 0),
                      eval_dataset=Tokens(8, 1), callbacks=[callback])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        trainer.train()
        trainer.evaluate()  # after train() closed the Logger: reopened on the same logdir
    if callback.logger is not None:  # None on the fake backend's other-rank check
        callback.logger.close()  # (or at exit)
    return trainer


def test_trainer_run_into_one_tensorboard_run(tmp_path):
    logdir = tmp_path / "run"
    callback = VizlogCallback("tensorboard", logdir=logdir)
    train(tmp_path, callback)

    run = read_run(logdir)
    assert subruns(logdir) == []
    assert run.steps("train/loss") == list(range(1, STEPS + 1))
    assert run.steps("train/learning_rate") == list(range(1, STEPS + 1))
    # evaluation at steps 3 and 6; evaluate() after train() gives step 6's loss again, and
    # the epoch comes with both training and evaluation logs: each point is written once
    assert run.steps("eval/loss") == [3, 6]
    # only the two evaluations' own timings may differ at step 6 (equal timings, as rounded
    # by the Trainer, are written once)
    timings = {"eval/runtime", "eval/samples_per_second", "eval/steps_per_second"}
    repeated = run.repeated()
    assert set(repeated) <= timings and all(steps == [6] for steps in repeated.values())
    assert run.steps("train/train_runtime") == [STEPS]  # the summary at the end
    assert run.hparams_written == 1
    assert run.hparams["learning_rate"] == pytest.approx(1e-3)
    assert run.hparams["max_steps"] == STEPS
    assert run.hparams["model/hidden_size"] == 16
    assert run.hparams["model/model_type"] == "bert"
    assert set(run.hparam_metrics) == {"train/loss", "eval/loss"}  # the run's own series


def test_fake_backend_and_process_zero_only(vizlog_fake, tmp_path):
    callback = VizlogCallback(logdir=tmp_path / "run")
    train(tmp_path, callback)

    assert [s for s, _ in vizlog_fake.scalars("train/loss")] == list(range(1, STEPS + 1))
    assert vizlog_fake.closed
    (hparams,) = vizlog_fake.records("hparams")

    class NotZero:
        is_world_process_zero = False
        global_step = 1

    vizlog_fake.clear()
    other = VizlogCallback(logdir=tmp_path / "other")
    other.on_train_begin(None, NotZero(), None)
    other.on_log(None, NotZero(), None, logs={"loss": 1.0})
    assert vizlog_fake.calls == [] and other.logger is None


def test_default_logdir_is_under_output_dir(vizlog_fake, tmp_path, monkeypatch):
    monkeypatch.delenv("VIZLOG_LOGDIR", raising=False)

    class Args:
        output_dir = str(tmp_path)

    class State:
        is_world_process_zero = True
        global_step = 2

    callback = VizlogCallback()
    with pytest.warns(RuntimeWarning, match="'train/weird' is a list"):
        callback.on_log(Args(), State(), None, logs={"eval_acc": 0.5, "note": "hi",
                                                      "weird": [1, 2], "loss": 2.0})
    assert os.path.dirname(callback.logger.logdir) == os.path.join(str(tmp_path), "runs")
    assert vizlog_fake.scalars("eval/acc") == [(2, 0.5)]
    assert vizlog_fake.scalars("train/loss") == [(2, 2.0)]
    assert [r.text for r in vizlog_fake.records("text", "train/note")] == ["hi"]
    callback.on_train_end(Args(), State(), None)


def test_tag_names_follow_the_trainer():
    assert [tag_for(k) for k in ("loss", "eval_loss", "test_f1")] == [
        "train/loss", "eval/loss", "test/f1"]
