"""vizlog as a Hugging Face ``Trainer`` callback.

    from vizlog.integrations.transformers import VizlogCallback
    trainer = Trainer(model, args, train_dataset=..., callbacks=[VizlogCallback()])

What the Trainer logs (``on_log``) becomes scalars at ``state.global_step``, named as the
Trainer's own TensorBoard callback names them (``train/loss``, ``eval/loss``, ``test/...``);
text values become text.  At the start of training the training arguments and the model's
config are logged once as hyperparameters of the run (the config under ``model/``), with
``train/loss`` and ``eval/loss`` as the metrics the HParams tab compares runs by.  Only the
world's process zero logs.  The Logger is closed at the end of training (everything is
written); an ``evaluate()`` after ``train()`` reopens one on the same logdir, as the Trainer's
TensorBoard callback does.
"""

from __future__ import annotations

import os
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

#: the framework's base class (typed Any: vizlog's type checks do not reach into transformers)
_TrainerCallback: Any = require("transformers", "transformers").TrainerCallback

_PREFIXES = (("eval_", "eval/"), ("test_", "test/"))
#: the scalar tags the HParams tab compares runs by
METRICS = ("train/loss", "eval/loss")


def tag_for(key: str) -> str:
    """The Trainer's names: ``eval_loss`` -> ``eval/loss``, ``loss`` -> ``train/loss``."""
    for prefix, group in _PREFIXES:
        if key.startswith(prefix):
            return group + key[len(prefix):]
    return "train/" + key


class VizlogCallback(_TrainerCallback):
    """Logs a Hugging Face ``Trainer`` run through ``vizlog.Logger``.

    Args:
        backend: as ``vizlog.Logger(backend=...)``; ``None`` reads ``VIZLOG_BACKEND``.
        logdir: the run's directory; ``None`` reads ``VIZLOG_LOGDIR``, else
            ``<output_dir>/runs/<date>-<time>_<host>`` (where the Trainer's own TensorBoard
            callback writes).
        **logger_options: passed to ``vizlog.Logger`` (``system_metrics=True``, ...).
    """

    def __init__(self, backend: str | list[str] | None = None,
                 logdir: str | os.PathLike[str] | None = None, **logger_options: Any) -> None:
        self._backend = backend
        self._logdir = None if logdir is None else os.fspath(logdir)
        self._options = logger_options
        self._logger: Logger | None = None
        self._hparams: dict[str, Any] | None = None
        self._dropped: set[str] = set()
        self._repeats = Repeats()

    @property
    def logger(self) -> Logger | None:
        """The ``vizlog.Logger`` in use (None before training starts and after it ends)."""
        return self._logger

    @property
    def logdir(self) -> str | None:
        """The run's directory (None until training starts, when it was not given)."""
        return self._logdir

    def _open(self, args: Any) -> Logger:
        if self._logdir is None:
            self._logdir = config.env("VIZLOG_LOGDIR") or os.path.join(
                args.output_dir or ".", "runs", config.default_run_name())
        if self._logger is None:
            self._logger = Logger(self._backend, self._logdir, **self._options)
        return self._logger

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None,
                       **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        log = self._open(args)
        params: dict[str, Any] = dict(args.to_sanitized_dict())
        model_config = getattr(model, "config", None)
        if model_config is not None:
            as_dict = model_config if isinstance(model_config, dict) else model_config.to_dict()
            params["model"] = as_dict
        flat = flatten_hparams(params)
        if flat != self._hparams:  # a second train() in the same run: logged once
            self._hparams = flat
            # the losses the Trainer reports name the metrics runs are compared by; their
            # values come from the run's own series as training goes on
            log.hparams(flat, metric_dict=dict.fromkeys(METRICS))

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        log = self._open(args)
        step = state.global_step
        for key, value in logs.items():
            tag = tag_for(key)
            if isinstance(value, str):
                log.text(tag, value, step)
            elif is_number(value):
                if not self._repeats.seen(tag, step, value):
                    log.scalar(tag, value, step)
            else:
                warn_dropped("transformers", tag, value, self._dropped)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._logger is not None:
            self._logger.close()
            self._logger = None
