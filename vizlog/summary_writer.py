"""``from vizlog import SummaryWriter``: the writers' ``add_*`` API over a vizlog Logger.

A script written for ``torch.utils.tensorboard`` or tensorboardX runs on any vizlog backend by
changing its import line.  Argument names follow the writers (``global_step``, ``log_dir``
and tensorboardX's ``logdir``).
"""

from __future__ import annotations

import os
from typing import Any

from vizlog import config
from vizlog.logger import Logger


class SummaryWriter:
    """Drop-in for ``torch.utils.tensorboard.SummaryWriter`` / ``tensorboardX.SummaryWriter``.

    ``backend`` and ``**backend_options`` go to ``vizlog.Logger``; the writers' tuning
    arguments (``max_queue``, ``flush_secs``, ...) are accepted for compatibility.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] | None = None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int = 10,
        flush_secs: int = 120,
        filename_suffix: str = "",
        *,
        logdir: str | os.PathLike[str] | None = None,
        backend: str | list[str] | None = None,
        **backend_options: Any,
    ) -> None:
        directory = log_dir if log_dir is not None else logdir
        if directory is None and comment:
            directory = (config.env("VIZLOG_LOGDIR")
                         or os.path.join("runs", config.default_run_name() + comment))
        self.logger = Logger(backend=backend, logdir=directory, **backend_options)

    @property
    def log_dir(self) -> str:
        return self.logger.logdir

    logdir = log_dir

    def get_logdir(self) -> str:
        return self.logger.logdir

    def add_scalar(self, tag: str, scalar_value: Any, global_step: int | None = None,
                   walltime: float | None = None, new_style: bool = False,
                   double_precision: bool = False) -> None:
        self.logger.scalar(tag, scalar_value, global_step, walltime)

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict[str, Any],
                    global_step: int | None = None, walltime: float | None = None) -> None:
        self.logger.scalars(main_tag, tag_scalar_dict, global_step, walltime)

    def add_histogram(self, tag: str, values: Any, global_step: int | None = None,
                      bins: Any = "tensorflow", walltime: float | None = None,
                      max_bins: int | None = None) -> None:
        self.logger.histogram(tag, values, global_step, bins, walltime)

    def add_image(self, tag: str, img_tensor: Any, global_step: int | None = None,
                  walltime: float | None = None, dataformats: str = "CHW") -> None:
        self.logger.image(tag, img_tensor, global_step, dataformats, walltime)

    def add_images(self, tag: str, img_tensor: Any, global_step: int | None = None,
                   walltime: float | None = None, dataformats: str = "NCHW") -> None:
        self.logger.image(tag, img_tensor, global_step, dataformats, walltime)

    def add_figure(self, tag: str, figure: Any, global_step: int | None = None,
                   close: bool = True, walltime: float | None = None) -> None:
        """A matplotlib figure (or a list of them, shown as a grid), rendered to pixels."""
        import numpy as np

        figures = figure if isinstance(figure, list) else [figure]
        pictures = []
        for fig in figures:
            fig.canvas.draw()
            pictures.append(np.asarray(fig.canvas.buffer_rgba())[..., :3])
            if close:
                import matplotlib.pyplot as plt

                plt.close(fig)
        batch = np.stack(pictures) if len(pictures) > 1 else pictures[0]
        self.logger.image(tag, batch, global_step, "NHWC" if len(pictures) > 1 else "HWC",
                          walltime)

    def add_text(self, tag: str, text_string: str, global_step: int | None = None,
                 walltime: float | None = None) -> None:
        self.logger.text(tag, text_string, global_step, walltime)

    def add_graph(self, model: Any, input_to_model: Any = None, verbose: bool = False,
                  use_strict_trace: bool = True) -> None:
        self.logger.graph(model, input_to_model)

    def add_embedding(self, mat: Any, metadata: Any = None, label_img: Any = None,
                      global_step: int | None = None, tag: str = "default",
                      metadata_header: Any = None) -> None:
        self.logger.embedding(mat, metadata, label_img, global_step, tag, metadata_header)

    def add_pr_curve(self, tag: str, labels: Any, predictions: Any,
                     global_step: int | None = None, num_thresholds: int = 127,
                     weights: Any = None, walltime: float | None = None) -> None:
        self.logger.pr_curve(tag, labels, predictions, global_step, num_thresholds, weights,
                             walltime)

    def flush(self) -> None:
        self.logger.flush()

    def close(self) -> None:
        self.logger.close()

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
