"""vizlog as a Lightning logger.

    from vizlog.integrations.lightning import VizlogLogger
    trainer = lightning.Trainer(logger=VizlogLogger())          # backend from VIZLOG_BACKEND

Metrics become scalars (a dict value becomes one ``scalars`` chart), hyperparameters are
logged with ``Logger.hparams`` into the run itself (no separate run, no placeholder metric),
the graph is traced from ``example_input_array``, and ``logger.experiment`` is the
``vizlog.Logger``, so ``self.logger.experiment.histogram(...)`` works inside a
LightningModule.  Works with ``lightning.pytorch`` and with the older ``pytorch_lightning``.

Lightning's habits this follows (as its own ``TensorBoardLogger`` does):

- it calls ``finalize`` at the end of every ``fit``, ``validate`` and ``test``: finalize closes
  the Logger (everything is written), and the next call reopens one on the same logdir, so a
  ``trainer.test()`` after ``trainer.fit()`` lands in the same run;
- it calls ``log_hyperparams`` and ``log_graph`` at the start of each of them: the same
  hyperparameters and the graph are logged once per run, not once per call;
- it calls ``save`` after every ``log_metrics``: ``save`` does not flush, since vizlog writes
  on its own within ``flush_secs`` and a flush there would make every step wait for disk;
- only rank zero logs, by Lightning's own rank (``rank_zero_only.rank``, set by the Trainer
  from the strategy, or from ``RANK``/``LOCAL_RANK``/``SLURM_PROCID`` before it).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

from vizlog import config
from vizlog.integrations._common import (
    Repeats,
    flatten_hparams,
    is_number,
    require,
    warn_dropped,
)
from vizlog.logger import Logger

_pl = require("lightning", "lightning.pytorch", "pytorch_lightning")
rank_zero_only = importlib.import_module(f"{_pl.__name__}.utilities.rank_zero").rank_zero_only
rank_zero_experiment = importlib.import_module(
    f"{_pl.__name__}.loggers.logger").rank_zero_experiment

#: the framework's base class (typed Any: vizlog's type checks do not reach into Lightning)
_LightningLogger: Any = _pl.loggers.Logger


class VizlogLogger(_LightningLogger):
    """A Lightning logger that writes through ``vizlog.Logger``.

    Args:
        backend: as ``vizlog.Logger(backend=...)``; ``None`` reads ``VIZLOG_BACKEND``.
        logdir: the run's directory; ``None`` reads ``VIZLOG_LOGDIR``, else
            ``runs/<date>-<time>_<host>``.  Lightning puts its checkpoints under
            ``<logdir>/checkpoints``.
        **logger_options: passed to ``vizlog.Logger`` (``system_metrics=True``, ``server=``,
            ``flush_secs=``, ...).
    """

    def __init__(self, backend: str | list[str] | None = None,
                 logdir: str | os.PathLike[str] | None = None, **logger_options: Any) -> None:
        super().__init__()
        self._backend = backend
        # fixed now, so that a Logger reopened after finalize() writes into the same run
        self._logdir = os.path.normpath(os.fspath(config.logdir() if logdir is None else logdir))
        self._options = logger_options
        self._experiment: Logger | None = None
        self._hparams: dict[str, Any] | None = None
        self._graph_logged = False
        self._dropped: set[str] = set()
        self._repeats = Repeats()

    # -------------------------------------------------------------- what Lightning reads

    @property
    def name(self) -> str:
        """Empty: the run's directory is ``save_dir/version`` (Lightning builds paths from
        ``save_dir``, ``name`` and ``version``)."""
        return ""

    @property
    def version(self) -> str:
        return os.path.basename(self._logdir)

    @property
    def save_dir(self) -> str:
        return os.path.dirname(self._logdir)

    @property
    def root_dir(self) -> str:
        return self.save_dir

    @property
    def log_dir(self) -> str:
        return self._logdir

    @property
    @rank_zero_experiment
    def experiment(self) -> Logger:
        """The ``vizlog.Logger`` of this run (a do-nothing stand-in on other ranks)."""
        if self._experiment is None:
            self._experiment = Logger(self._backend, self._logdir, **self._options)
        return self._experiment

    # -------------------------------------------------------------- what Lightning calls

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Tensors are handed to the Logger as they are: a CUDA value is read on the delivery
        thread, never with ``.item()`` here."""
        log = self.experiment
        for key, value in metrics.items():
            if isinstance(value, Mapping):
                log.scalars(key, dict(value), step)
            elif is_number(value):
                if not self._repeats.seen(key, step, value):
                    log.scalar(key, value, step)
            else:
                warn_dropped("Lightning", key, value, self._dropped)

    @rank_zero_only
    def log_hyperparams(self, params: Any, metrics: Any = None, step: int | None = None) -> None:
        """Hyperparameters (nested ones flattened as ``outer/inner``) into this run; metric
        values given here are logged too.  The same values again (Lightning logs them at
        every fit, validate and test) are not logged twice."""
        flat = flatten_hparams(params)
        if metrics is not None and not isinstance(metrics, Mapping):
            metrics = {"hp_metric": metrics}
        if flat == self._hparams and not metrics:
            return
        self._hparams = flat
        self.experiment.hparams(flat, metric_dict=dict(metrics) if metrics else None)

    @rank_zero_only
    def log_graph(self, model: Any, input_array: Any = None) -> None:
        """The model's graph, traced on ``input_array`` or ``model.example_input_array``, once
        per run; without either, nothing (Lightning calls this at every start)."""
        if self._graph_logged:
            return
        if input_array is None:
            input_array = getattr(model, "example_input_array", None)
        if input_array is None:
            return
        try:
            if callable(getattr(model, "_on_before_batch_transfer", None)) and callable(
                getattr(model, "_apply_batch_transfer_handler", None)
            ):
                # on the model's device, through the user's transfer hooks, as in training
                input_array = model._on_before_batch_transfer(input_array)
                input_array = model._apply_batch_transfer_handler(input_array)
        except Exception as exc:  # noqa: BLE001 - a graph must never crash a training run
            warnings.warn(f"vizlog: cannot log the graph of {type(model).__name__}: moving "
                          f"example_input_array to its device failed ({exc})", RuntimeWarning,
                          stacklevel=2)
            return
        if isinstance(input_array, list):
            input_array = tuple(input_array)
        with _tracing(model):
            self.experiment.graph(model, input_array)
        self._graph_logged = True

    def save(self) -> None:
        """Nothing to do: what was logged is on disk within ``flush_secs`` (Lightning calls
        this after every ``log_metrics``; a flush here would make each step wait)."""

    @rank_zero_only
    def finalize(self, status: str) -> None:
        """Close the Logger: everything logged so far is written.  The next logging call
        (a ``trainer.test()`` after ``fit``) reopens one on the same logdir."""
        if self._experiment is not None:
            self._experiment.close()
            self._experiment = None

    def __getstate__(self) -> dict[str, Any]:
        # a Logger owns threads and files; a copy sent to another process makes its own
        state = self.__dict__.copy()
        state["_experiment"] = None
        return state


@contextlib.contextmanager
def _tracing(model: Any) -> Iterator[None]:
    """Tell Lightning that the module is being traced, as its own logger does: tracing reads
    every attribute, and ``LightningModule.trainer`` raises on a module with no Trainer."""
    owner: Any = next(
        (cls for cls in type(model).__mro__ if "_jit_is_scripting" in vars(cls)), None)
    if owner is None:
        yield
        return
    before = owner._jit_is_scripting
    owner._jit_is_scripting = True
    try:
        yield
    finally:
        owner._jit_is_scripting = before
