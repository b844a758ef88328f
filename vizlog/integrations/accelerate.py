"""vizlog as an accelerate tracker.

    from vizlog.integrations.accelerate import VizlogTracker
    accelerator = Accelerator(log_with=VizlogTracker("my_run"))
    accelerator.init_trackers("my_project", config={"lr": 1e-3})   # -> hparams of the run
    accelerator.log({"loss": loss}, step=step)                      # -> scalars
    accelerator.end_training()                                      # -> closed, all written

``log`` sends numbers (and one-element tensors, read off the training thread) as scalars, a
dict of numbers as one ``scalars`` chart, and strings as text.  ``log_images`` and
``log_table`` take what accelerate's other trackers take.  Unlike accelerate's TensorBoard
tracker, ``log`` does not flush after every call (vizlog writes within ``flush_secs``) and the
configuration lands in the run itself, where the HParams tab finds it.  Only the main process
logs (accelerate's ``main_process_only``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from vizlog import config
from vizlog.integrations._common import flatten_hparams, is_number, require, warn_dropped
from vizlog.logger import Logger

_tracking = require("accelerate", "accelerate.tracking")
on_main_process = _tracking.on_main_process
#: the framework's base class (typed Any: vizlog's type checks do not reach into accelerate)
_GeneralTracker: Any = _tracking.GeneralTracker


class VizlogTracker(_GeneralTracker):
    """An accelerate tracker that writes through ``vizlog.Logger``.

    Args:
        run_name: the run's name; the run is written to ``runs/<run_name>`` unless ``logdir``
            (or ``VIZLOG_LOGDIR``) says otherwise.
        backend: as ``vizlog.Logger(backend=...)``; ``None`` reads ``VIZLOG_BACKEND``.
        logdir: the run's directory.
        **logger_options: passed to ``vizlog.Logger`` (``system_metrics=True``, ...).
    """

    name = "vizlog"
    requires_logging_directory = False
    main_process_only = True

    def __init__(self, run_name: str, backend: str | list[str] | None = None,
                 logdir: str | os.PathLike[str] | None = None, **logger_options: Any) -> None:
        super().__init__()
        self.run_name = run_name
        if logdir is None:
            logdir = config.env("VIZLOG_LOGDIR") or os.path.join("runs", run_name)
        self.logdir = os.fspath(logdir)
        self._backend = backend
        self._options = logger_options
        self._logger: Logger | None = None
        self._dropped: set[str] = set()

    @on_main_process
    def start(self) -> None:
        """Called by ``init_trackers`` (on the main process only)."""
        if self._logger is None:
            self._logger = Logger(self._backend, self.logdir, **self._options)

    @property
    def tracker(self) -> Logger | None:
        """The ``vizlog.Logger`` (``accelerator.get_tracker("vizlog", unwrap=True)``)."""
        return self._logger

    def _log(self) -> Logger:
        self.start()  # a tracker used without init_trackers still logs
        assert self._logger is not None
        return self._logger

    @on_main_process
    def store_init_configuration(self, values: dict[str, Any]) -> None:
        """The configuration given to ``init_trackers`` as the run's hyperparameters."""
        self._log().hparams(flatten_hparams(values))

    @on_main_process
    def log(self, values: Mapping[str, Any], step: int | None = None, **kwargs: Any) -> None:
        log = self._log()
        for key, value in values.items():
            if isinstance(value, str):
                log.text(key, value, step)
            elif isinstance(value, Mapping):
                log.scalars(key, dict(value), step)
            elif is_number(value):
                log.scalar(key, value, step)
            else:
                warn_dropped("accelerate", key, value, self._dropped)

    @on_main_process
    def log_images(self, values: Mapping[str, Any], step: int | None = None,
                   dataformats: str | None = None, **kwargs: Any) -> None:
        """Each value is an image, a batch (4-D) or a list of same-sized images shown as one
        grid: numpy arrays, tensors or PIL images.  A list is read as numpy's and PIL's
        height-width-channels unless ``dataformats`` says otherwise."""
        import numpy as np

        log = self._log()
        for key, value in values.items():
            formats = dataformats
            if isinstance(value, Sequence) and not isinstance(value, str):
                value = np.stack([np.asarray(image) for image in value])
                if formats is None:
                    formats = "NHWC" if value.ndim == 4 else "NHW"
            elif not hasattr(value, "shape"):
                value = np.asarray(value)  # a PIL image
            if formats == "NHW":  # greyscale pictures: one channel
                value, formats = value[..., None], "NHWC"
            log.image(key, value, step, dataformats=formats)

    @on_main_process
    def log_table(self, table_name: str, columns: list[str] | None = None,
                  data: list[list[Any]] | None = None, dataframe: Any = None,
                  step: int | None = None, **kwargs: Any) -> None:
        """A table, shown as a Markdown table in TensorBoard's TEXT tab (and as text in
        Visdom): from ``columns`` and ``data`` rows, or from a pandas ``dataframe``."""
        if dataframe is not None:
            columns = [str(c) for c in dataframe.columns]
            data = dataframe.values.tolist()
        rows = data or []
        if columns is None:
            columns = [str(i) for i in range(len(rows[0]) if rows else 0)]
        lines = ["| " + " | ".join(str(c) for c in columns) + " |",
                 "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
        self._log().text(table_name, "\n".join(lines), step)

    @on_main_process
    def finish(self) -> None:
        """Called by ``end_training``: close the Logger, so everything is written."""
        if self._logger is not None:
            self._logger.close()
            self._logger = None
