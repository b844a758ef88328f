"""``from vizlog import SummaryWriter``: the writers' whole API over a vizlog Logger.

A script written for ``torch.utils.tensorboard`` or tensorboardX runs on any vizlog backend by
changing its import line.  Every public method and argument of both writers is here, with
their names and defaults; where the two differ (``add_hparams(run_name=)`` against
``(name=)``, ``add_onnx_graph(prototxt)`` against ``(onnx_model_file)``, the fifth argument
of ``add_scalar``), both spellings are accepted.  The README's "Moving from SummaryWriter"
lists what vizlog does differently on purpose.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from vizlog import config, sinks
from vizlog.concepts import common, graph, image
from vizlog.concepts.histogram import TENSORFLOW_EDGES
from vizlog.concepts.tensorboard_event import event_class
from vizlog.errors import VizlogTypeError, VizlogValueError
from vizlog.file_writer import FileWriter
from vizlog.logger import Logger


class SummaryWriter:
    """Drop-in for ``torch.utils.tensorboard.SummaryWriter`` / ``tensorboardX.SummaryWriter``.

    ``backend`` and ``**backend_options`` go to ``vizlog.Logger``.  ``purge_step``,
    ``filename_suffix`` and ``flush_secs`` go to the TensorBoard backends (``flush_secs``
    None: vizlog's 2 s).  ``write_to_disk=False`` logs nothing anywhere and creates nothing.
    After ``close()`` the next call opens the run again, in a new event file, as the writers
    do.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] | None = None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int = 10,
        flush_secs: float | None = None,
        filename_suffix: str = "",
        write_to_disk: bool = True,
        *,
        logdir: str | os.PathLike[str] | None = None,
        comet_config: dict[str, Any] | None = None,
        backend: str | list[str] | None = None,
        **backend_options: Any,
    ) -> None:
        if not isinstance(comment, str):
            raise VizlogTypeError("SummaryWriter(comment=...): expected a string")
        if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 1:
            raise VizlogValueError("SummaryWriter(max_queue=...): expected a positive integer")
        if not isinstance(write_to_disk, bool):
            raise VizlogTypeError("SummaryWriter(write_to_disk=...): expected True or False")
        if comet_config is not None and not comet_config.get("disabled", False):
            raise VizlogValueError("SummaryWriter(comet_config=...): vizlog does not log to "
                                   "Comet; leave comet_config out")
        directory = log_dir if log_dir else logdir
        if directory:
            directory = os.fspath(directory)
        else:
            directory = (config.env("VIZLOG_LOGDIR")
                         or os.path.join("runs", config.default_run_name() + comment))
        self.log_dir = self.logdir = str(directory)
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        #: the writers' default histogram edges (``bins="tensorflow"``)
        self.default_bins = TENSORFLOW_EDGES.tolist()
        #: what ``export_scalars_to_json`` writes: ``add_scalars`` values, as tensorboardX
        self.scalar_dict: dict[str, list[list[Any]]] = {}
        self._backend = backend if write_to_disk else "none"
        writer_options = {"purge_step": purge_step, "filename_suffix": filename_suffix or None,
                          "flush_secs": flush_secs}
        accepted = sinks.accepted_options(sinks.resolve(self._backend)[1])
        self._options = dict(backend_options)
        self._options.update({k: v for k, v in writer_options.items()
                              if v is not None and k in accepted})
        self._defaults: dict[str, Any] = {}
        self.logger = Logger(backend=self._backend, logdir=self.log_dir, **self._options)
        self._options.pop("purge_step", None)  # purged once, when the run is resumed
        self._closed = False

    def _log(self) -> Logger:
        """The Logger, opened again (a new event file) if the writer was closed."""
        if self._closed:
            self.logger = Logger(backend=self._backend, logdir=self.log_dir, **self._options)
            self._closed = False
        return self.logger

    def _at(self, global_step: Any, walltime: Any) -> tuple[Any, Any]:
        """The step and walltime of a call, from ``use_metadata`` where not given."""
        return (self._defaults.get("global_step") if global_step is None else global_step,
                self._defaults.get("walltime") if walltime is None else walltime)

    # ------------------------------------------------------------------ the writers' API

    def get_logdir(self) -> str:
        return self.log_dir

    @property
    def file_writer(self) -> FileWriter | None:
        """The writers' ``FileWriter`` of this run (``add_event``, ``add_summary``, ...);
        None after ``close()``, as theirs."""
        return None if self._closed else FileWriter(self)

    @property
    def all_writers(self) -> dict[str, FileWriter] | None:
        writer = self.file_writer
        return None if writer is None else {self.log_dir: writer}

    def add_hparams(self, hparam_dict: dict[str, Any], metric_dict: dict[str, Any],
                    hparam_domain_discrete: Any = None, run_name: Any = None,
                    global_step: int | None = None, *, name: str | None = None) -> None:
        """Into this run, or into ``<logdir>/<run_name>`` (tensorboardX: ``name``) when one
        is given, as the writers do.  tensorboardX's positional ``(name, global_step)`` is
        accepted too."""
        if isinstance(hparam_domain_discrete, str):  # tensorboardX: (hparams, metrics, name)
            hparam_domain_discrete, name, global_step = None, hparam_domain_discrete, run_name
            run_name = None
        if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
            raise VizlogTypeError("add_hparams(hparam_dict=..., metric_dict=...): both must be "
                                  "dicts, as the writers require")
        step, _ = self._at(global_step, None)
        self._log().hparams(hparam_dict, metric_dict, run_name if run_name else name,
                            step=step, hparam_domain_discrete=hparam_domain_discrete)

    def add_scalar(self, tag: str, scalar_value: Any, global_step: int | None = None,
                   walltime: float | None = None, new_style: Any = False,
                   double_precision: Any = False, display_name: str = "",
                   summary_description: str = "") -> None:
        """torch's ``new_style``/``double_precision`` and tensorboardX's ``display_name``/
        ``summary_description`` (also as its fifth and sixth positional arguments)."""
        if isinstance(new_style, str):  # tensorboardX's positional (display_name, description)
            display_name, new_style = new_style, False
            if isinstance(double_precision, str):
                summary_description, double_precision = double_precision, False
        precision = ("double" if double_precision else "float") if new_style else ""
        style: tuple[str, str, str] | tuple[()] = (
            (precision, display_name, summary_description)
            if precision or display_name or summary_description else ())
        step, wall = self._at(global_step, walltime)
        self._log().scalar(tag, scalar_value, step, wall, style=style)

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict[str, Any],
                    global_step: int | None = None, walltime: float | None = None) -> None:
        step, wall = self._at(global_step, walltime)
        self._log().scalars(main_tag, tag_scalar_dict, step, wall)
        stamp = time.time() if wall is None else wall
        for key, value in tag_scalar_dict.items():
            self.scalar_dict.setdefault(os.path.join(self.log_dir, main_tag, key), []).append(
                [stamp, global_step, common.to_scalar(value, "add_scalars", "tag_scalar_dict")])

    def export_scalars_to_json(self, path: str | os.PathLike[str]) -> None:
        """tensorboardX's: ``{run/main_tag/key: [[walltime, step, value], ...]}`` of the
        ``add_scalars`` calls so far, then forgets them."""
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.scalar_dict, f)
        self.scalar_dict = {}

    def add_histogram(self, tag: str, values: Any, global_step: int | None = None,
                      bins: Any = "tensorflow", walltime: float | None = None,
                      max_bins: int | None = None) -> None:
        step, wall = self._at(global_step, walltime)
        self._log().histogram(tag, values, step, bins, wall, max_bins)

    def add_histogram_raw(self, tag: str, min: Any, max: Any, num: Any, sum: Any,
                          sum_squares: Any, bucket_limits: Any, bucket_counts: Any,
                          global_step: int | None = None, walltime: float | None = None) -> None:
        step, wall = self._at(global_step, walltime)
        self._log().histogram_raw(tag, min, max, num, sum, sum_squares, bucket_limits,
                                  bucket_counts, step, wall)

    def add_image(self, tag: str, img_tensor: Any, global_step: int | None = None,
                  walltime: float | None = None, dataformats: str = "CHW") -> None:
        step, wall = self._at(global_step, walltime)
        self._log().image(tag, img_tensor, step, dataformats, wall)

    def add_images(self, tag: str, img_tensor: Any, global_step: int | None = None,
                   walltime: float | None = None, dataformats: str = "NCHW") -> None:
        """A batch, or (tensorboardX) a list of same-sized CHW or HWC images."""
        if isinstance(img_tensor, list):
            if not isinstance(dataformats, str) or dataformats.upper() not in ("CHW", "HWC"):
                raise VizlogValueError("add_images(dataformats=...): a list of images needs "
                                       "'CHW' or 'HWC'")
            arrays = [common.to_numpy(i, "add_images", "img_tensor") for i in img_tensor]
            if not arrays or len({a.shape for a in arrays}) != 1:
                raise VizlogValueError("add_images(img_tensor=...): expected a non-empty list "
                                       "of images of one shape")
            img_tensor, dataformats = np.stack(arrays), "N" + dataformats.upper()
        self.add_image(tag, img_tensor, global_step, walltime, dataformats)

    def add_image_with_boxes(self, tag: str, img_tensor: Any, box_tensor: Any,
                             global_step: int | None = None, walltime: float | None = None,
                             rescale: Any = 1, dataformats: Any = "CHW", labels: Any = None,
                             **kwargs: Any) -> None:
        """Red boxes ``(xmin, ymin, xmax, ymax)`` with their labels drawn on the picture."""
        if isinstance(rescale, str):  # tensorboardX's positional (dataformats, labels)
            rescale, dataformats, labels = kwargs.pop("rescale", 1), rescale, (
                dataformats if dataformats != "CHW" else labels)
        rescale = kwargs.pop("rescale", rescale)
        if kwargs:
            raise VizlogTypeError(f"add_image_with_boxes(): unknown argument(s) {sorted(kwargs)}")
        pixels = image.boxes_pixels(img_tensor, box_tensor, dataformats, labels, rescale)
        self.add_image(tag, pixels, global_step, walltime, "HWC")

    def add_figure(self, tag: str, figure: Any, global_step: int | None = None,
                   close: bool = True, walltime: float | None = None) -> None:
        step, wall = self._at(global_step, walltime)
        self._log().figure(tag, figure, step, close, wall)

    def add_video(self, tag: str, vid_tensor: Any, global_step: int | None = None,
                  fps: float = 4, walltime: float | None = None,
                  dataformats: str = "NTCHW") -> None:
        step, wall = self._at(global_step, walltime)
        self._log().video(tag, vid_tensor, step, fps, wall, dataformats)

    def add_audio(self, tag: str, snd_tensor: Any, global_step: int | None = None,
                  sample_rate: int = 44100, walltime: float | None = None) -> None:
        step, wall = self._at(global_step, walltime)
        self._log().audio(tag, snd_tensor, step, sample_rate, wall)

    def add_text(self, tag: str, text_string: str, global_step: int | None = None,
                 walltime: float | None = None) -> None:
        step, wall = self._at(global_step, walltime)
        self._log().text(tag, text_string, step, wall)

    def add_tensor(self, tag: str, tensor: Any, global_step: int | None = None,
                   walltime: float | None = None) -> None:
        """torch's: the whole tensor in a summary of the ``tensor`` plugin (read back with
        TensorBoard's loader; no dashboard draws it)."""
        common.check_tag(tag, "add_tensor")
        common.to_numpy(tensor, "add_tensor", "tensor")
        import torch
        from torch.utils.tensorboard.summary import tensor_proto

        try:
            summary = tensor_proto(tag, torch.as_tensor(tensor).detach().cpu())
        except ValueError as exc:
            raise VizlogValueError(f"add_tensor(tensor=...): {exc}") from None
        step, wall = self._at(global_step, walltime)
        self._log().tensorboard_event(summary, 0 if step is None else step, wall)

    def add_onnx_graph(self, onnx_model_file: Any = None, *, prototxt: Any = None) -> None:
        """The graph of an ONNX model file (tensorboardX: ``onnx_model_file``, torch:
        ``prototxt``); needs the ``onnx`` package."""
        path = onnx_model_file if onnx_model_file is not None else prototxt
        self._graph_event(graph.onnx_graph(path), None)

    def add_openvino_graph(self, xmlname: Any) -> None:
        """The graph of an OpenVINO IR ``.xml`` file (no OpenVINO package needed)."""
        self._graph_event(graph.openvino_graph(xmlname), None)

    def _graph_event(self, graph_def: Any, walltime: Any) -> None:
        event = event_class(graph_def)(graph_def=graph_def.SerializeToString())
        self._log().tensorboard_event(event, 0, self._at(None, walltime)[1])

    def add_graph(self, model: Any, input_to_model: Any = None, verbose: bool = False,
                  use_strict_trace: bool = True) -> None:
        self._log().graph(model, input_to_model, use_strict_trace=use_strict_trace)

    def add_embedding(self, mat: Any, metadata: Any = None, label_img: Any = None,
                      global_step: int | None = None, tag: str = "default",
                      metadata_header: Any = None) -> None:
        step, _ = self._at(global_step, None)
        self._log().embedding(mat, metadata, label_img, step, tag, metadata_header)

    def add_pr_curve(self, tag: str, labels: Any, predictions: Any,
                     global_step: int | None = None, num_thresholds: int = 127,
                     weights: Any = None, walltime: float | None = None) -> None:
        step, wall = self._at(global_step, walltime)
        self._log().pr_curve(tag, labels, predictions, step, min(num_thresholds, 127)
                             if isinstance(num_thresholds, int) else num_thresholds, weights,
                             wall)

    def add_pr_curve_raw(self, tag: str, true_positive_counts: Any, false_positive_counts: Any,
                         true_negative_counts: Any, false_negative_counts: Any, precision: Any,
                         recall: Any, global_step: int | None = None, num_thresholds: int = 127,
                         weights: Any = None, walltime: float | None = None) -> None:
        step, wall = self._at(global_step, walltime)
        self._log().pr_curve_raw(tag, true_positive_counts, false_positive_counts,
                                 true_negative_counts, false_negative_counts, precision, recall,
                                 step, min(num_thresholds, 127)
                                 if isinstance(num_thresholds, int) else num_thresholds,
                                 weights, wall)

    def add_custom_scalars_multilinechart(self, tags: list[str], category: str = "default",
                                          title: str = "untitled") -> None:
        self.add_custom_scalars({category: {title: ["Multiline", tags]}})

    def add_custom_scalars_marginchart(self, tags: list[str], category: str = "default",
                                       title: str = "untitled") -> None:
        self.add_custom_scalars({category: {title: ["Margin", tags]}})

    def add_custom_scalars(self, layout: dict[str, Any]) -> None:
        self._log().custom_scalars(layout)

    def add_mesh(self, tag: str, vertices: Any, colors: Any = None, faces: Any = None,
                 config_dict: Any = None, global_step: int | None = None,
                 walltime: float | None = None) -> None:
        step, wall = self._at(global_step, walltime)
        self._log().mesh(tag, vertices, colors, faces, config_dict, step, wall)

    @contextlib.contextmanager
    def use_metadata(self, *, global_step: int | None = None,
                     walltime: float | None = None) -> Iterator[SummaryWriter]:
        """tensorboardX's: calls inside the block without ``global_step``/``walltime`` use
        these (every ``add_*`` call, ``add_scalars`` included)."""
        if self._defaults:
            raise VizlogValueError("use_metadata(): already inside use_metadata")
        if global_step is None and walltime is None:
            raise VizlogValueError("use_metadata(global_step=..., walltime=...): give at least "
                                   "one")
        if global_step is not None:
            common.to_step(global_step, "use_metadata")
        if walltime is not None:
            common.to_walltime(walltime, "use_metadata")
        self._defaults = {"global_step": global_step, "walltime": walltime}
        try:
            yield self
        finally:
            self._defaults = {}

    def flush(self) -> None:
        if not self._closed:
            self.logger.flush()

    def close(self) -> None:
        if not self._closed:
            self.logger.close()
            self._closed = True

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
