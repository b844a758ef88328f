"""The framework examples train for real (tiny settings, CPU) into the fake backend: what the
README promises each logs is there, once per step."""

from __future__ import annotations

import os
import sys
import warnings
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

TINY = ["--device", "cpu", "--epochs", "2", "--limit", "128", "--batch-size", "32"]
STEPS = 2 * 128 // 32


def no_point_twice(fake) -> None:
    points = Counter((r.tag, r.step) for r in fake.calls if r.kind == "scalar")
    assert [p for p, n in points.items() if n > 1] == []


def test_lightning_example(vizlog_fake, tmp_path):
    pytest.importorskip("lightning")
    import lightning_digits

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice about workers and batch sizes
        metrics = lightning_digits.main([*TINY, "--logdir", str(tmp_path / "run")])
    assert metrics["steps"] == STEPS
    assert [s for s, _ in vizlog_fake.scalars("train/loss")] == list(range(STEPS))
    assert len(vizlog_fake.scalars("val/accuracy")) == 2
    assert [r.step for r in vizlog_fake.records("histogram", "weights/first_layer")] == [0, 1]
    assert len(vizlog_fake.records("hparams")) == 1 and len(vizlog_fake.records("graph")) == 1
    no_point_twice(vizlog_fake)


def test_transformers_example(vizlog_fake, tmp_path):
    pytest.importorskip("transformers")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers_digits

    metrics = transformers_digits.main([*TINY, "--logdir", str(tmp_path / "run"),
                                        "--output-dir", str(tmp_path / "out")])
    assert metrics["steps"] == STEPS
    assert [s for s, _ in vizlog_fake.scalars("eval/accuracy")] == [STEPS // 2, STEPS]
    (hparams,) = vizlog_fake.records("hparams")
    assert hparams.hparams["model/model_type"] == "vit"
    no_point_twice(vizlog_fake)


def test_accelerate_example(vizlog_fake, tmp_path):
    pytest.importorskip("accelerate")
    import accelerate_digits

    metrics = accelerate_digits.main([*TINY, "--logdir", str(tmp_path / "run")])
    assert [s for s, _ in vizlog_fake.scalars("train/loss")] == list(range(1, STEPS + 1))
    assert [s for s, _ in vizlog_fake.scalars("val/accuracy")] == [STEPS // 2, STEPS]
    assert metrics["val_accuracy"] == vizlog_fake.scalars("val/accuracy")[-1][1]
    assert len(vizlog_fake.records("hparams")) == 1
    assert len(vizlog_fake.records("image", "inputs")) == 1
    no_point_twice(vizlog_fake)


def test_ignite_example(vizlog_fake, tmp_path):
    pytest.importorskip("ignite")
    import ignite_digits

    ignite_digits.main([*TINY, "--logdir", str(tmp_path / "run")])
    assert [s for s, _ in vizlog_fake.scalars("train/loss")] == list(range(1, STEPS + 1))
    assert [s for s, _ in vizlog_fake.scalars("val/accuracy")] == [1, 2]
    assert vizlog_fake.tags("histogram") == ["weights/1/weight", "weights/1/bias",
                                             "weights/3/weight", "weights/3/bias",
                                             "grads/1/weight", "grads/1/bias",
                                             "grads/3/weight", "grads/3/bias"]
    assert len(vizlog_fake.records("hparams")) == 1
    no_point_twice(vizlog_fake)
