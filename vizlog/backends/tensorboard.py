"""TensorBoard through ``torch.utils.tensorboard``; also the shared translation of records to
the ``SummaryWriter`` API, which tensorboardX has too (see ``tensorboardx.py``)."""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any, ClassVar

from vizlog import config
from vizlog.backends.base import Backend
from vizlog.backends.projector import ProjectorWriter
from vizlog.errors import VizlogTypeError, VizlogValueError
from vizlog.records import (
    Embedding,
    Graph,
    Histogram,
    Image,
    PRCurve,
    Record,
    Scalar,
    Scalars,
    Text,
)

CUSTOM_SCALARS_CATEGORY = "scalars"


class SummaryWriterBackend(Backend):
    """Translates records to a ``SummaryWriter``; subclasses say which writer.

    ``scalars`` become tags ``main_tag/key`` in this run plus a custom-scalars chart that
    draws them together, rather than the writers' one sub-run per key.
    """

    options: ClassVar[tuple[str, ...]] = ("flush_secs", "max_queue")

    def __init__(self, logdir: str, flush_secs: float | None = None, max_queue: int = 1000) -> None:
        super().__init__(logdir)
        # The writers' own threads flush every ``flush_secs``, busy or idle: that interval
        # bounds what a killed process (SIGKILL, OOM killer) can lose.
        flush_secs = config.flush_secs() if flush_secs is None else _seconds(flush_secs)
        self.writer = self.make_writer(logdir, flush_secs=flush_secs, max_queue=max_queue)
        self._projector = ProjectorWriter(logdir)
        self._charts: dict[str, list[str]] = {}
        self._write = {
            Scalar: self._scalar,
            Scalars: self._scalars,
            Histogram: self._histogram,
            Image: self._image,
            Embedding: self._projector.write,
            Graph: self._graph,
            PRCurve: self._pr_curve,
            Text: self._text,
        }

    def make_writer(self, logdir: str, flush_secs: float, max_queue: int) -> Any:
        raise NotImplementedError

    def event_pb2(self) -> ModuleType:
        raise NotImplementedError

    def write(self, record: Record) -> None:
        self._write[type(record)](record)

    def _scalar(self, r: Scalar) -> None:
        self.writer.add_scalar(r.tag, r.value, r.step, walltime=r.walltime)

    def _scalars(self, r: Scalars) -> None:
        for key, value in r.values.items():
            self.writer.add_scalar(f"{r.tag}/{key}", value, r.step, walltime=r.walltime)
        chart = self._charts.setdefault(r.tag, [])
        new = [key for key in r.values if key not in chart]
        if new:
            chart.extend(new)
            layout = {
                CUSTOM_SCALARS_CATEGORY: {
                    tag: ["Multiline", [f"^{re.escape(tag)}/{re.escape(k)}$" for k in keys]]
                    for tag, keys in self._charts.items()
                }
            }
            self.writer.add_custom_scalars(layout)

    def _histogram(self, r: Histogram) -> None:
        self.writer.add_histogram_raw(
            r.tag, r.min, r.max, r.num, r.sum, r.sum_squares,
            r.bucket_limits.tolist(), r.bucket_counts.tolist(), r.step, walltime=r.walltime,
        )

    def _image(self, r: Image) -> None:
        self.writer.add_image(r.tag, r.pixels, r.step, walltime=r.walltime, dataformats="HWC")

    def _graph(self, r: Graph) -> None:
        if not r.graph_def:  # the model could not be traced; the Logger has warned
            return
        event = self.event_pb2().Event(graph_def=r.graph_def)
        self.writer._get_file_writer().add_event(event, r.step, r.walltime)

    def _pr_curve(self, r: PRCurve) -> None:
        self.writer.add_pr_curve_raw(
            r.tag, r.true_positive_counts, r.false_positive_counts, r.true_negative_counts,
            r.false_negative_counts, r.precision, r.recall, r.step,
            num_thresholds=r.num_thresholds, walltime=r.walltime,
        )

    def _text(self, r: Text) -> None:
        self.writer.add_text(r.tag, r.text, r.step, walltime=r.walltime)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise VizlogTypeError(
            f"Logger(flush_secs=...): expected a number of seconds, got {type(value).__name__}"
        )
    if not 0 < value < float("inf"):
        raise VizlogValueError(f"Logger(flush_secs=...): expected a positive number, got {value}")
    return float(value)


class TorchTensorBoardBackend(SummaryWriterBackend):
    name = "tensorboard"

    def make_writer(self, logdir: str, flush_secs: float, max_queue: int) -> Any:
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(log_dir=logdir, flush_secs=flush_secs, max_queue=max_queue)

    def event_pb2(self) -> ModuleType:
        from tensorboard.compat.proto import event_pb2

        return event_pb2
