"""``vizlog.integrations.ignite``: a real ignite trainer and evaluator with every handler
attached, into TensorBoard and Visdom at once (read back from both) and the fake backend."""

from __future__ import annotations

import uuid

import pytest

pytest.importorskip("ignite")
pytest.importorskip("tensorboard")
pytestmark = pytest.mark.filterwarnings(
    "ignore:The .warn. method is deprecated:DeprecationWarning"  # the visdom client's own
)

import torch  # noqa: E402
from ignite.engine import (  # noqa: E402
    Events,
    create_supervised_evaluator,
    create_supervised_trainer,
)
from ignite.metrics import Loss  # noqa: E402
from runlogs import read_run, subruns, visdom_points, visdom_windows  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from vizlog.integrations.ignite import (  # noqa: E402
    GradsHistHandler,
    GradsScalarHandler,
    VizlogLogger,
    WeightsHistHandler,
    WeightsScalarHandler,
    global_step_from_engine,
)

EPOCHS, BATCHES = 2, 4
ITERATIONS = list(range(1, EPOCHS * BATCHES + 1))
PARAMS = ("weight", "bias")


def train(vl: VizlogLogger) -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = torch.nn.MSELoss()
    x = torch.randn(4 * BATCHES, 3)
    data = DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=4)
    trainer = create_supervised_trainer(model, optimizer, loss_fn)
    evaluator = create_supervised_evaluator(model, metrics={"mse": Loss(loss_fn)})
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda _: evaluator.run(data))

    vl.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="training",
                             output_transform=lambda loss: {"loss": loss})
    vl.attach_output_handler(evaluator, Events.EPOCH_COMPLETED, tag="validation",
                             metric_names=["mse"],
                             global_step_transform=global_step_from_engine(trainer))
    vl.attach_opt_params_handler(trainer, Events.ITERATION_STARTED, optimizer=optimizer)
    vl.attach(trainer, WeightsScalarHandler(model), Events.ITERATION_COMPLETED)
    vl.attach(trainer, GradsScalarHandler(model), Events.ITERATION_COMPLETED)
    vl.attach(trainer, WeightsHistHandler(model), Events.EPOCH_COMPLETED)
    vl.attach(trainer, GradsHistHandler(model, tag="model"), Events.EPOCH_COMPLETED)
    vl.hparams({"lr": 0.05, "batch_size": 4})
    trainer.run(data, max_epochs=EPOCHS)
    vl.close()


def test_every_handler_into_tensorboard_and_visdom(visdom_server, tmp_path):
    logdir = tmp_path / "run"
    env = "ign" + uuid.uuid4().hex[:8]
    train(VizlogLogger("tensorboard,visdom", logdir=logdir, server=visdom_server.url, env=env))

    run = read_run(logdir)
    assert subruns(logdir) == []
    assert run.steps("training/loss") == ITERATIONS
    assert run.steps("lr/group_0") == ITERATIONS
    assert [v for _, v in run.scalars["lr/group_0"]] == pytest.approx([0.05] * len(ITERATIONS))
    for name in PARAMS:
        assert run.steps(f"weights_norm/{name}") == ITERATIONS
        assert run.steps(f"grads_norm/{name}") == ITERATIONS
        assert run.others[f"weights/{name}"] == [1, 2]  # EPOCH_COMPLETED: the epoch
        assert run.others[f"model/grads/{name}"] == [1, 2]
    assert run.steps("validation/mse") == [1, 2]  # the trainer's epoch
    assert run.repeated() == {}

    windows = visdom_windows(visdom_server, env)
    on_disk = run.scalars["training/loss"]
    shown = visdom_points(windows, "training/loss")
    assert [x for x, _ in shown] == ITERATIONS
    assert [y for _, y in shown] == pytest.approx([v for _, v in on_disk], rel=1e-6)
    assert [x for x, _ in visdom_points(windows, "validation/mse")] == [1, 2]
    assert "histogram:weights/weight" in windows
    assert run.hparams_written == 1 and run.hparams == {"lr": pytest.approx(0.05),
                                                        "batch_size": 4}
    assert "batch_size" in str(windows)  # the hparams window


def test_fake_backend_and_forwarding(vizlog_fake):
    vl = VizlogLogger()
    train(vl)
    assert [s for s, _ in vizlog_fake.scalars("training/loss")] == ITERATIONS
    assert [r.step for r in vizlog_fake.records("histogram", "weights/bias")] == [1, 2]
    assert vl.logdir == vl.experiment.logdir  # other attributes are the Logger's
    (hparams,) = vizlog_fake.records("hparams")


def test_a_handler_needs_a_vizlog_logger():
    model = torch.nn.Linear(1, 1)
    with pytest.raises(RuntimeError, match="WeightsHistHandler works only with VizlogLogger"):
        WeightsHistHandler(model)(None, object(), Events.EPOCH_COMPLETED)
