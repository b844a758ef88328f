"""TensorBoard event files with summaries built by ``torch.utils.tensorboard``; the shared
translation of records also serves tensorboardX (see ``tensorboardx.py``).

Summaries of every kind are made by the chosen library's own ``summary`` functions (so the
files hold what its ``SummaryWriter`` would write); scalars, the bulk of a run, are encoded
directly to the same bytes.  Events go to one event file written by vizlog's sender thread
(``eventfile.py``), flushed every ``flush_secs``: the most a killed process can lose.  A logdir
may also be an fsspec URL (``s3://``, ``gs://``, ...): ``storage.py`` says how it is stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any, ClassVar

from vizlog import config, logdirs
from vizlog.backends.base import Backend
from vizlog.backends.tensorboard import storage, summaries
from vizlog.backends.tensorboard.eventfile import (
    graph_event,
    scalar_event,
    scalar_frames,
    summary_event,
)
from vizlog.backends.tensorboard.projector import ProjectorWriter
from vizlog.backends.tensorboard.scalars_layout import KeyRuns
from vizlog.concepts.custom_scalars import layout_dict
from vizlog.errors import VizlogTypeError, VizlogValueError
from vizlog.records import (
    Audio,
    CustomScalars,
    Embedding,
    Figure,
    Graph,
    Histogram,
    HParams,
    Image,
    Mesh,
    PRCurve,
    Record,
    Scalar,
    Scalars,
    TensorBoardEvent,
    Text,
    Video,
)


class SummaryWriterBackend(Backend):
    """Translates records to TensorBoard events; subclasses say whose summary functions.

    ``scalars`` go to one run per key, shared by all main tags (``scalars_layout.py``):
    TensorBoard then draws one card per main tag with a line per key, as for the writers,
    without their run per main tag and key.  ``hparams`` are written into the run itself (or
    the sub-run the call names).

    Tags are written exactly as logged, on both backends: the Logger decides what a tag is
    (tensorboardX's own functions would rewrite some, e.g. ``"a b"`` to ``"a_b"`` for images
    but not for histograms, splitting one tag in two).

    ``purge_step`` and ``filename_suffix`` are the writers' arguments of the same names.
    """

    options: ClassVar[tuple[str, ...]] = ("flush_secs", "storage_options", "purge_step",
                                          "filename_suffix")
    remote_logdir = True

    def __init__(self, logdir: str, flush_secs: float | None = None,
                 storage_options: dict[str, Any] | None = None,
                 purge_step: int | None = None, filename_suffix: str = "") -> None:
        super().__init__(logdir)
        _check_writer_options(purge_step, filename_suffix)
        self.flush_secs = config.flush_secs() if flush_secs is None else _seconds(flush_secs)
        # What a SIGKILL may lose is what waits in the queue plus what waits in the file's
        # buffer: each gets under half of flush_secs, so the sum stays under it.
        self._flush_every = self.flush_secs * 0.4
        self.max_lag = self.flush_secs * 0.4
        self.poll_seconds = self.max_lag / 2  # records wait here or in the queue: the same
        self.summary = self.summary_module()
        self._store = storage.open_store(logdir, logdirs.check_options(storage_options))
        self._suffix = filename_suffix
        self._file = self._store.event_file(self.flush_secs, filename_suffix, purge_step)
        self._flushed_at = time.monotonic()
        self._projector = ProjectorWriter(self._store)
        self._layout: dict[str, dict[str, list[Any]]] = {}  # the latest custom_scalars
        self._runs: dict[str, storage.EventSink] = {}  # sub-runs named by hparams(run_name=...)
        self._session_end: Any = None  # written at close when the run holds hparams
        self._keys = KeyRuns(self._store, self.flush_secs, filename_suffix, purge_step)
        self._write: dict[type[Record], Callable[[Any], Any]] = {
            Scalar: self._scalar,
            Scalars: self._keys.write,
            Histogram: self._histogram,
            Image: self._image,
            Figure: self._image,
            Embedding: self._projector.write,
            Graph: self._graph,
            PRCurve: self._pr_curve,
            Text: self._text,
            HParams: self._hparams,
            Audio: lambda r: self._summary(summaries.audio(self.summary, r), r),
            Video: lambda r: self._summary(summaries.video(self.summary, r), r),
            Mesh: self._mesh,
            CustomScalars: self._custom_scalars,
            TensorBoardEvent: lambda r: self._file.write(r.event),
        }

    def summary_module(self) -> ModuleType:
        raise NotImplementedError

    def write(self, record: Record) -> None:
        self._write[type(record)](record)

    def write_batch(self, records: list[Record]) -> list[tuple[Record, Exception]]:
        failed: list[tuple[Record, Exception]] = []
        write = self._write
        scalars: list[Scalar] = []  # consecutive scalars are encoded together
        keyed: list[Scalars] = []  # and the batch's scalars calls, per key (other files)
        for record in records:
            kind = type(record)
            if kind is Scalar and not record.style:  # type: ignore[attr-defined]
                scalars.append(record)  # type: ignore[arg-type]
                continue
            if kind is Scalars:
                keyed.append(record)  # type: ignore[arg-type]
                continue
            if scalars:
                self._scalar_run(scalars, failed)
                scalars = []
            try:
                write[type(record)](record)
            except Exception as exc:  # noqa: BLE001 - one record never costs the others
                failed.append((record, exc))
        if scalars:
            self._scalar_run(scalars, failed)
        if keyed:
            self._keys.write_many(keyed, failed)
        self._flush_if_due()
        return failed

    def _scalar_run(self, scalars: list[Scalar], failed: list[tuple[Record, Exception]]) -> None:
        try:
            self._file.write_framed(
                scalar_frames([(r.tag, r.value, r.step, r.walltime) for r in scalars]),
                len(scalars))
        except Exception:  # noqa: BLE001 - then one at a time, to set aside only the bad one
            for record in scalars:
                try:
                    self._scalar(record)
                except Exception as exc:  # noqa: BLE001
                    failed.append((record, exc))

    def _summary(self, summary: Any, r: Record, file: storage.EventSink | None = None) -> None:
        (file or self._file).write(summary_event(summary.SerializeToString(), r.step,
                                                 r.walltime))

    def _scalar(self, r: Scalar) -> None:
        if r.style:
            self._summary(summaries.styled_scalar(self.summary, r), r)
        else:
            self._file.write(scalar_event(r.tag, r.value, r.step, r.walltime))

    def _custom_scalars(self, r: CustomScalars) -> None:
        self._layout = layout_dict(r.layout)
        self._summary(self.summary.custom_scalars(
            {k: v for k, v in self._layout.items() if v}), r)

    def _histogram(self, r: Histogram) -> None:
        self._summary(self.summary.histogram_raw(
            r.tag, r.min, r.max, r.num, r.sum, r.sum_squares,
            r.bucket_limits.tolist(), r.bucket_counts.tolist(),
        ), r)

    def _image(self, r: Image) -> None:
        summary = self.summary.image(r.tag, r.pixels, dataformats="HWC")
        summary.value[0].tag = r.tag  # one tag policy: as logged (tensorboardX rewrites it)
        self._summary(summary, r)

    def _graph(self, r: Graph) -> None:
        if r.graph_def:  # empty when the model could not be traced; the Logger has warned
            self._file.write(graph_event(r.graph_def, r.step, r.walltime))

    def _pr_curve(self, r: PRCurve) -> None:
        self._summary(self.summary.pr_curve_raw(
            r.tag, r.true_positive_counts, r.false_positive_counts, r.true_negative_counts,
            r.false_negative_counts, r.precision, r.recall, r.num_thresholds,
        ), r)

    def _text(self, r: Text) -> None:
        self._summary(self.summary.text(r.tag, r.text), r)

    def _mesh(self, r: Mesh) -> None:
        self._summary(self.summary.mesh(r.tag, r.vertices, r.colors, r.faces,
                                        json.loads(r.config)), r)

    def _hparams(self, r: HParams) -> None:
        """Into the run itself (the metric values come as its own scalar records, and the
        session ends when the run closes), or into a sub-run as the writers do it."""
        exp, ssi, sei = summaries.hparams(self.summary, r)
        if r.run is None:
            if r.metrics or r.domains:  # else TensorBoard takes every scalar tag as a metric
                self._summary(exp, r)
            self._summary(ssi, r)
            self._session_end = (sei, r)
            return
        file = self._runs.get(r.run)
        if file is None:
            file = self._runs[r.run] = self._store.event_file(self.flush_secs, self._suffix,
                                                              run=r.run)
        for summary in (exp, ssi, sei):
            self._summary(summary, r, file)
        for tag, value in r.metrics.items():
            if value is not None:
                file.write(scalar_event(tag, value, r.step, r.walltime))

    def _flush_if_due(self) -> None:
        if time.monotonic() - self._flushed_at >= self._flush_every:
            for file in (self._file, *self._runs.values()):
                file.flush_if_due()  # a store starts a new object at its own, longer pace
            self._keys.flush_if_due()
            self._flushed_at = time.monotonic()

    def tick(self) -> None:
        self._flush_if_due()

    def flush(self, deadline: float | None = None) -> None:
        for file in (self._file, *self._runs.values()):
            file.flush()
        self._keys.flush()
        self._flushed_at = time.monotonic()

    def close(self, deadline: float | None = None) -> None:
        if self._session_end is not None:  # the run's hparams session ends with the run
            sei, r = self._session_end
            self._file.write(summary_event(sei.SerializeToString(), r.step, time.time()))
        for file in (self._file, *self._runs.values()):
            file.close()
        self._keys.close()
        self._store.close()


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise VizlogTypeError(
            f"Logger(flush_secs=...): expected a number of seconds, got {type(value).__name__}"
        )
    if not 0 < value < float("inf"):
        raise VizlogValueError(f"Logger(flush_secs=...): expected a positive number, got {value}")
    return float(value)


def _check_writer_options(purge_step: object, filename_suffix: object) -> None:
    if purge_step is not None and (isinstance(purge_step, bool)
                                   or not isinstance(purge_step, int)):
        raise VizlogTypeError(f"Logger(purge_step=...): expected a step (int), got {purge_step!r}")
    if not isinstance(filename_suffix, str) or "/" in filename_suffix or "\x00" in filename_suffix:
        raise VizlogValueError(
            f"Logger(filename_suffix=...): expected a string without '/', got {filename_suffix!r}"
        )


class TorchTensorBoardBackend(SummaryWriterBackend):
    name = "tensorboard"

    def summary_module(self) -> ModuleType:
        from torch.utils.tensorboard import summary

        return summary
