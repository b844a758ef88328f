"""``vizlog.integrations.lightning.VizlogLogger`` driven by a real Lightning ``Trainer``.

A tiny regression module trains for two epochs on the CPU, then ``trainer.test()`` runs after
``fit`` has finalized the logger; the run is read back from the event files.
"""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("lightning")
pytest.importorskip("tensorboard")
pytestmark = pytest.mark.filterwarnings(
    "ignore:.isinstance.treespec, LeafSpec.. is deprecated"  # Lightning's own, under torch 2.13
)

import torch  # noqa: E402
from lightning.pytorch import LightningModule, Trainer  # noqa: E402
from runlogs import read_run, subruns  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from vizlog.integrations.lightning import VizlogLogger, rank_zero_only  # noqa: E402

TRAIN, VAL, TEST, BATCH = 24, 8, 8, 4
STEPS_PER_EPOCH = TRAIN // BATCH


class Regression(LightningModule):
    def __init__(self, lr: float = 0.05, hidden: int = 3, extra: dict | None = None,
                 with_example: bool = True) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.Tanh(),
                                       torch.nn.Linear(hidden, 1))
        if with_example:
            self.example_input_array = torch.zeros(2, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _loss(self, batch) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.mse_loss(self(x), y)

    def training_step(self, batch, batch_idx):
        loss = self._loss(batch)
        self.log("train_loss", loss, on_step=True, on_epoch=False)
        self.logger.experiment.histogram("first_weight", self.net[0].weight,
                                         step=self.global_step)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self._loss(batch))

    def test_step(self, batch, batch_idx):
        self.log("test_loss", self._loss(batch))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def _loader(n: int, seed: int) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=BATCH)


def _trainer(logger: VizlogLogger, checkpoints: bool) -> Trainer:
    return Trainer(max_epochs=2, logger=logger, accelerator="cpu", devices=1,
                   log_every_n_steps=1, enable_checkpointing=checkpoints,
                   enable_progress_bar=False, enable_model_summary=False,
                   num_sanity_val_steps=0)


def fit_and_test(logger: VizlogLogger, checkpoints: bool = False, **module_args) -> Regression:
    torch.manual_seed(0)
    model = Regression(**module_args)
    trainer = _trainer(logger, checkpoints)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        trainer.fit(model, _loader(TRAIN, 0), _loader(VAL, 1))
        trainer.test(model, _loader(TEST, 2))
    return model


def test_two_epochs_then_test_into_one_tensorboard_run(tmp_path):
    logdir = tmp_path / "run"
    logger = VizlogLogger("tensorboard", logdir=logdir)
    fit_and_test(logger, extra={"optimizer": {"momentum": 0.0}, "layers": [4, 3, 1]})

    run = read_run(logdir)
    assert subruns(logdir) == []  # hparams and test metrics in the run itself
    # one training point per optimizer step, validation once per epoch, test once
    assert run.steps("train_loss") == list(range(2 * STEPS_PER_EPOCH))
    assert run.steps("val_loss") == [STEPS_PER_EPOCH - 1, 2 * STEPS_PER_EPOCH - 1]
    assert len(run.steps("test_loss")) == 1  # logged after fit closed the Logger: reopened
    assert all(v > 0 for _, v in run.scalars["train_loss"])
    assert run.others["first_weight"] == list(range(2 * STEPS_PER_EPOCH))  # logger.experiment
    # Lightning hands "epoch" over with the training and again with the validation metrics
    assert run.repeated() == {}
    assert "hp_metric" not in run.scalars  # no placeholder metric
    # the graph once, from example_input_array (Lightning asks at fit and at test)
    assert run.graphs == 1
    assert logger.log_dir == str(logdir) and logger.version == "run"
    assert logger.save_dir == str(tmp_path)
    # hyperparameters once (Lightning hands them over at fit and again at test), flattened
    assert run.hparams_written == 1
    assert run.hparams["lr"] == pytest.approx(0.05)
    assert run.hparams["hidden"] == 3
    assert run.hparams["extra/optimizer/momentum"] == 0.0
    assert run.hparams["extra/layers"] == "[4, 3, 1]"


def test_fake_backend_sees_what_lightning_logged(vizlog_fake, tmp_path, recwarn):
    fit_and_test(VizlogLogger(logdir=tmp_path / "run"), checkpoints=True, with_example=False)

    steps = [s for s, _ in vizlog_fake.scalars("train_loss")]
    assert steps == list(range(2 * STEPS_PER_EPOCH))
    assert [s for s, _ in vizlog_fake.scalars("val_loss")] == [STEPS_PER_EPOCH - 1,
                                                                2 * STEPS_PER_EPOCH - 1]
    assert len(vizlog_fake.scalars("test_loss")) == 1
    assert vizlog_fake.records("graph") == []  # no example_input_array: quietly nothing
    assert not [w for w in recwarn if "graph" in str(w.message)]
    assert list((tmp_path / "run" / "checkpoints").glob("*.ckpt"))  # under the logdir
    assert vizlog_fake.closed  # finalize closed it
    (hparams,) = vizlog_fake.records("hparams")  # once, though Lightning gave them twice


def test_graph_of_a_module_without_trainer(tmp_path):
    """Lightning's TensorBoardLogger traces with its scripting flag set, since tracing reads
    ``LightningModule.trainer``, which raises on a module with no Trainer."""
    logger = VizlogLogger("tensorboard", logdir=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "cannot trace" warning
        logger.log_graph(Regression())
        logger.log_graph(Regression())  # once per run
    logger.finalize("success")
    assert read_run(tmp_path).graphs == 1


def test_metrics_are_not_read_on_the_training_thread(vizlog_fake, monkeypatch):
    """A tensor goes to the Logger as it is (a CUDA one is read on the delivery thread)."""
    logger = VizlogLogger()
    value = torch.tensor(0.5)
    handed = []
    monkeypatch.setattr(logger.experiment, "scalar",
                        lambda tag, v, step=None: handed.append((tag, v, step)))
    logger.log_metrics({"loss": value, "acc": {"a": 1.0, "b": 2.0}}, step=3)
    assert handed == [("loss", value, 3)]
    assert vizlog_fake.records("scalars")[0].values == {"a": 1.0, "b": 2.0}


def test_other_ranks_log_nothing(vizlog_fake, monkeypatch):
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    logger = VizlogLogger()
    logger.log_metrics({"loss": 1.0}, step=0)
    logger.log_hyperparams({"lr": 0.1})
    logger.experiment.scalar("x", 1.0)  # the do-nothing stand-in
    logger.finalize("success")
    assert vizlog_fake.calls == []
