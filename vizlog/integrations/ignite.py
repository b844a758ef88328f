"""vizlog for ignite engines, shaped like ignite's ``TensorboardLogger``.

    from vizlog.integrations.ignite import VizlogLogger, WeightsHistHandler
    vl = VizlogLogger()                                   # backend from VIZLOG_BACKEND
    vl.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="training",
                             output_transform=lambda loss: {"loss": loss})
    vl.attach_opt_params_handler(trainer, Events.ITERATION_STARTED, optimizer=optimizer)
    vl.attach(trainer, WeightsHistHandler(model), Events.EPOCH_COMPLETED)
    vl.hparams({"lr": 0.1})                               # any vizlog.Logger method
    vl.close()

The handlers log what ignite's TensorBoard handlers log, under the same tags, on any vizlog
backend (Visdom included, where ignite's own Visdom logger has no histogram handlers).
Weight and gradient reductions and histograms are handed to the Logger as tensors: a CUDA
tensor is reduced or binned where it lives and read off the training thread.
"""

from __future__ import annotations

import os
from typing import Any

from vizlog.integrations._common import require
from vizlog.logger import Logger

#: ignite's base classes (typed Any: vizlog's type checks do not reach into ignite)
_base: Any = require("ignite", "ignite.handlers.base_logger")
global_step_from_engine = require("ignite", "ignite.handlers.utils").global_step_from_engine

__all__ = [
    "VizlogLogger",
    "OutputHandler",
    "OptimizerParamsHandler",
    "WeightsScalarHandler",
    "WeightsHistHandler",
    "GradsScalarHandler",
    "GradsHistHandler",
    "global_step_from_engine",
]


class VizlogLogger(_base.BaseLogger):
    """An ignite logger over ``vizlog.Logger``; other attributes are the Logger's.

    Args:
        backend: as ``vizlog.Logger(backend=...)``; ``None`` reads ``VIZLOG_BACKEND``.
        logdir: the run's directory; ``None`` reads ``VIZLOG_LOGDIR``, else
            ``runs/<date>-<time>_<host>``.
        **logger_options: passed to ``vizlog.Logger`` (``system_metrics=True``, ...).
    """

    def __init__(self, backend: str | list[str] | None = None,
                 logdir: str | os.PathLike[str] | None = None, **logger_options: Any) -> None:
        self.experiment = Logger(backend, logdir, **logger_options)

    def __getattr__(self, name: str) -> Any:
        # as ignite's TensorboardLogger forwards to its writer: vl.scalar(...), vl.hparams(...)
        if name == "experiment":
            raise AttributeError(name)
        return getattr(self.experiment, name)

    def close(self) -> None:
        self.experiment.close()

    def _create_output_handler(self, *args: Any, **kwargs: Any) -> OutputHandler:
        return OutputHandler(*args, **kwargs)

    def _create_opt_params_handler(self, *args: Any, **kwargs: Any) -> OptimizerParamsHandler:
        return OptimizerParamsHandler(*args, **kwargs)


def _logger_of(handler: object, logger: Any) -> Logger:
    if not isinstance(logger, VizlogLogger):
        raise RuntimeError(f"Handler {type(handler).__name__} works only with VizlogLogger")
    return logger.experiment


def _prefix(tag: str | None) -> str:
    return f"{tag}/" if tag else ""


class OutputHandler(_base.BaseOutputHandler):
    """The engine's output, metrics and state attributes as scalars ``<tag>/<name>``."""

    def __call__(self, engine: Any, logger: Any, event_name: Any) -> None:
        log = _logger_of(self, logger)
        metrics = self._setup_output_metrics_state_attrs(engine, key_tuple=False)
        step = self.global_step_transform(engine, event_name)
        if not isinstance(step, int):
            raise TypeError(f"global_step must be int, got {type(step)}. Please check the "
                            "output of global_step_transform.")
        for key, value in metrics.items():
            log.scalar(key, value, step)


class OptimizerParamsHandler(_base.BaseOptimizerParamsHandler):
    """An optimizer parameter (``lr`` by default) per group: ``<tag>/<param>/group_<i>``."""

    def __call__(self, engine: Any, logger: Any, event_name: Any) -> None:
        log = _logger_of(self, logger)
        step = engine.state.get_event_attrib_value(event_name)
        for i, group in enumerate(self.optimizer.param_groups):
            log.scalar(f"{_prefix(self.tag)}{self.param_name}/group_{i}",
                       float(group[self.param_name]), step)


class WeightsScalarHandler(_base.BaseWeightsScalarHandler):
    """``reduction`` (``torch.norm`` by default) of each weight:
    ``<tag>/weights_<reduction>/<name>``."""

    def __call__(self, engine: Any, logger: Any, event_name: Any) -> None:
        log = _logger_of(self, logger)
        step = engine.state.get_event_attrib_value(event_name)
        for name, p in self.weights:
            log.scalar(f"{_prefix(self.tag)}weights_{self.reduction.__name__}/"
                       f"{name.replace('.', '/')}", self.reduction(p.data), step)


class WeightsHistHandler(_base.BaseWeightsHandler):
    """A histogram of each weight: ``<tag>/weights/<name>``."""

    def __call__(self, engine: Any, logger: Any, event_name: Any) -> None:
        log = _logger_of(self, logger)
        step = engine.state.get_event_attrib_value(event_name)
        for name, p in self.weights:
            log.histogram(f"{_prefix(self.tag)}weights/{name.replace('.', '/')}", p.data, step)


class GradsScalarHandler(_base.BaseWeightsScalarHandler):
    """``reduction`` of each gradient: ``<tag>/grads_<reduction>/<name>``."""

    def __call__(self, engine: Any, logger: Any, event_name: Any) -> None:
        log = _logger_of(self, logger)
        step = engine.state.get_event_attrib_value(event_name)
        for name, p in self.weights:
            if p.grad is not None:
                log.scalar(f"{_prefix(self.tag)}grads_{self.reduction.__name__}/"
                           f"{name.replace('.', '/')}", self.reduction(p.grad), step)


class GradsHistHandler(_base.BaseWeightsHandler):
    """A histogram of each gradient: ``<tag>/grads/<name>``."""

    def __call__(self, engine: Any, logger: Any, event_name: Any) -> None:
        log = _logger_of(self, logger)
        step = engine.state.get_event_attrib_value(event_name)
        for name, p in self.weights:
            if p.grad is not None:
                log.histogram(f"{_prefix(self.tag)}grads/{name.replace('.', '/')}", p.grad, step)
