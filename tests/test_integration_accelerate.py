"""``vizlog.integrations.accelerate.VizlogTracker`` through a real ``Accelerator``:
``init_trackers`` (configuration as hparams), ``log`` every step of a tiny training loop,
``log_images``/``log_table``, ``end_training``; on TensorBoard, Visdom and the fake backend.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest

pytest.importorskip("accelerate")
pytest.importorskip("tensorboard")
pytestmark = pytest.mark.filterwarnings(
    "ignore:The .warn. method is deprecated:DeprecationWarning"  # the visdom client's own
)

import torch  # noqa: E402
from accelerate import Accelerator  # noqa: E402
from runlogs import read_run, subruns, visdom_points, visdom_windows  # noqa: E402

from vizlog.integrations.accelerate import VizlogTracker  # noqa: E402

STEPS = 5
CONFIG = {"lr": 0.1, "optimizer": {"name": "sgd", "momentum": 0.9}, "scheduler": None}


def train(tracker: VizlogTracker) -> Accelerator:
    torch.manual_seed(0)
    accelerator = Accelerator(cpu=True, log_with=tracker)
    accelerator.init_trackers("project", config=CONFIG)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=CONFIG["lr"])
    model, optimizer = accelerator.prepare(model, optimizer)
    x = torch.randn(16, 3)
    y = x.sum(1, keepdim=True)
    for step in range(STEPS):
        loss = torch.nn.functional.mse_loss(model(x), y)
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        accelerator.log({"loss": loss.detach(), "parts": {"a": 1.0, "b": float(step)},
                         "phase": "train"}, step=step)
    vizlog = accelerator.get_tracker("vizlog")
    assert accelerator.get_tracker("vizlog", unwrap=True) is vizlog.tracker  # the Logger
    vizlog.log_images({"samples": [np.zeros((4, 4, 3), np.uint8),
                                   np.full((4, 4, 3), 255, np.uint8)]}, step=STEPS)
    vizlog.log_table("predictions", columns=["x", "y"], data=[[1, 2], [3, 4]], step=STEPS)
    accelerator.end_training()
    return accelerator


def test_tensorboard_run(tmp_path):
    logdir = tmp_path / "run"
    train(VizlogTracker("my_run", "tensorboard", logdir=logdir))

    run = read_run(logdir)
    assert subruns(logdir) == ["a", "b"]  # the dict's keys: scalars() runs, one per key
    assert run.steps("loss") == list(range(STEPS))
    losses = [v for _, v in run.scalars["loss"]]
    assert losses[-1] < losses[0]  # it trained
    assert run.repeated() == {}
    assert run.others["samples"] == [STEPS]
    assert run.others["predictions/text_summary"] == [STEPS]
    assert len(run.others["phase/text_summary"]) == STEPS
    assert run.hparams_written == 1
    assert run.hparams["lr"] == pytest.approx(0.1)
    assert run.hparams["optimizer/momentum"] == pytest.approx(0.9)
    assert run.hparams["optimizer/name"] == "sgd"
    assert run.hparams["scheduler"] == "None"


def test_fake_backend(vizlog_fake, tmp_path):
    tracker = VizlogTracker("my_run", logdir=tmp_path / "run")
    train(tracker)
    assert [s for s, _ in vizlog_fake.scalars("loss")] == list(range(STEPS))
    assert vizlog_fake.scalars("parts/b") == [(s, float(s)) for s in range(STEPS)]
    (table,) = vizlog_fake.records("text", "predictions")
    assert table.text.splitlines() == ["| x | y |", "|---|---|", "| 1 | 2 |", "| 3 | 4 |"]
    (image,) = vizlog_fake.records("image", "samples")
    assert vizlog_fake.closed and tracker.tracker is None  # end_training closed it
    (hparams,) = vizlog_fake.records("hparams")


def test_visdom(visdom_server, tmp_path):
    env = "acc" + uuid.uuid4().hex[:8]
    train(VizlogTracker("my_run", "visdom", logdir=tmp_path / "run",
                        server=visdom_server.url, env=env))
    windows = visdom_windows(visdom_server, env)
    points = visdom_points(windows, "loss")
    assert [x for x, _ in points] == list(range(STEPS))  # each step once
    assert "text:predictions" in windows and "image:samples" in windows
    everything = str(windows)
    assert "optimizer/momentum" in everything and "0.9" in everything  # the hparams window
