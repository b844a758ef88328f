"""The Logger: the facade.  It is the one place that looks at user input.

Each call is checked and converted once (``vizlog.concepts``), stamped with tag, step and
walltime, turned into one record (``vizlog.records``) and handed to every backend in use
(``vizlog.delivery``).  A bad argument raises here, before any backend sees anything, so
nothing of a bad call is written.  Process lifetime (exit, signals, fork) lives in
``vizlog.lifecycle``, ranks in ``vizlog.distributed``.
"""

from __future__ import annotations

import math
import os
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from vizlog import config, distributed, lifecycle
from vizlog import system_metrics as system_metrics_
from vizlog.backends import fake as fake_backend
from vizlog.backends import get_backend_class, parse_backend_names
from vizlog.backends.base import Backend
from vizlog.concepts import common, embedding, graph, histogram, image, pr_curve, scalar
from vizlog.deferred import Pending
from vizlog.delivery import DEFAULT_QUEUE_SIZE, BackgroundDelivery, InlineDelivery, Sink
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

#: histograms of more values than this are binned on the delivery thread
BIN_LATER_ABOVE = 65_536


class Logger:
    """Logs training data to one or several backends.

    Args:
        backend: ``"tensorboard"``, ``"tensorboardx"``, ``"visdom"``, ``"fake"``, ``"none"``,
            a comma-separated string or a list of these.  ``None`` reads ``VIZLOG_BACKEND``
            (default ``"tensorboard"``).
        logdir: the run's directory.  ``None`` reads ``VIZLOG_LOGDIR``, else
            ``runs/<date>-<time>_<host>``.
        all_ranks: under distributed training only rank 0 logs by default; with
            ``all_ranks=True`` every rank logs into ``<logdir>/rank<r>``.
        queue_size: records a background backend may hold before a logging call waits.
        system_metrics: sample CPU, memory and GPU metrics under ``system/`` from a background
            thread (``vizlog.system_metrics``); ``None`` reads ``VIZLOG_SYSTEM_METRICS``.
        system_interval: seconds between two samples; ``None`` reads ``VIZLOG_SYSTEM_INTERVAL``
            (default 10).
        **backend_options: passed to the backends that take them (for example ``server`` and
            ``env`` for Visdom, ``flush_secs`` for TensorBoard).
    """

    def __init__(
        self,
        backend: str | Sequence[str] | None = None,
        logdir: str | os.PathLike[str] | None = None,
        *,
        all_ranks: bool = False,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        system_metrics: bool | None = None,
        system_interval: float | None = None,
        **backend_options: Any,
    ) -> None:
        capture = fake_backend.capture if backend is None else None
        names = parse_backend_names(backend if backend is not None else config.backend_names())
        if capture is not None:
            names = ("fake",)
        queue_size = _check_queue_size(queue_size)
        # Options are checked on every rank, against the backends asked for, so that a call
        # that works on rank 0 works (and does nothing) on the others.
        classes = [get_backend_class(name) for name in names]
        _check_options(classes, backend_options)
        sample_every = system_metrics_.resolve(system_metrics, system_interval)
        self.rank = distributed.rank()
        self._off = not distributed.is_logging_rank(self.rank, all_ranks)
        if logdir is None:
            logdir = config.logdir()
        logdir = os.fspath(logdir)
        if all_ranks:
            logdir = os.path.join(logdir, f"rank{self.rank}")
        self.logdir = logdir
        self.backends: tuple[str, ...] = () if self._off else names
        if self._off:
            classes = []
        if any(cls.writes_files for cls in classes):
            _check_logdir(logdir)
        self._sinks: list[Sink] = []
        try:
            for cls in classes:
                if cls is fake_backend.FakeBackend and capture is not None:
                    instance: Backend = capture
                else:
                    options = {k: v for k, v in backend_options.items() if k in cls.options}
                    instance = cls(logdir, **options)
                self._sinks.append(
                    BackgroundDelivery(instance, queue_size) if cls.threaded
                    else InlineDelivery(instance)
                )
        except BaseException:
            for sink in self._sinks:
                sink.close()
            raise
        self._lock = threading.Lock()
        self._last_step: dict[tuple[str, str], int] = {}
        self._warned: set[tuple[str, str]] = set()
        self._closed = False
        self._pid = os.getpid()
        # before register(): a close() at exit may come as soon as the Logger is registered
        self._sampler = None if self._off or sample_every is None else (
            system_metrics_.SystemSampler(self, sample_every))
        if self._sinks:
            lifecycle.register(self)

    # ------------------------------------------------------------------ plumbing

    def get_backend(self, name: str) -> Backend:
        """The backend object in use under ``name`` (for example the ``"fake"`` one in tests)."""
        for sink in self._sinks:
            if sink.backend.name == name:
                return sink.backend
        raise KeyError(f"backend {name!r} is not in use; in use: {', '.join(self.backends)}")

    def _active(self) -> bool:
        # Off on other ranks, after close(), and in a forked child (DataLoader workers): the
        # parent's files and threads are not ours to touch.
        return not (self._off or self._closed or os.getpid() != self._pid)

    def _step(self, kind: str, tag: str, step: Any, method: str) -> int:
        """Called under the lock: the explicit step, or one more than the tag's last."""
        key = (kind, tag)
        if step is None:
            last = self._last_step.get(key)
            value = 0 if last is None else last + 1
            if value > common.STEP_MAX:
                raise VizlogValueError(f"{method}(step=...): the next step does not fit in 64 bits")
        else:
            value = common.to_step(step, method)
        self._last_step[key] = value
        return value

    @staticmethod
    def _walltime(walltime: Any, method: str) -> float:
        return time.time() if walltime is None else common.to_walltime(walltime, method)

    def _emit(self, kind: str, tag: str, step: Any, method: str,
              make: Callable[[int], Record | Pending]) -> int | None:
        """Stamp the step and hand the record to every backend, in one critical section so
        that each tag's records reach the backends in step order, and so that a call racing
        with ``close()`` is either delivered before it or reported as too late."""
        with self._lock:
            if self._closed:
                self._late(method)
                return None
            number = self._step(kind, tag, step, method)
            record = make(number)
            for sink in self._sinks:
                sink.write(record)
        return number

    def _late(self, method: str) -> None:
        self.warn_once("closed", method, f"vizlog: {method}() after the Logger was closed; "
                       "nothing is logged (create a new Logger to log more)")

    def warn_once(self, kind: str, tag: str, message: str) -> None:
        """One warning per (kind, tag); safe from any thread."""
        key = (kind, tag)
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, RuntimeWarning, stacklevel=3)

    # ------------------------------------------------------------------ the concepts

    def scalar(self, tag: str, value: Any, step: int | None = None,
               walltime: float | None = None, *, reduce: str | None = None) -> None:
        """One number.  NaN and infinities are logged as they are, with one warning per tag.

        ``reduce`` (``"mean"``, ``"sum"``, ``"max"``, ``"min"``) combines the value across
        the ranks of ``torch.distributed`` before rank 0 logs it.  It is a collective: every
        rank must make the same call, in the same order, or training hangs.
        """
        if reduce is not None:
            value = distributed.all_reduce(value, reduce)
        if not self._active():
            return
        tag = common.check_tag(tag, "scalar")
        wall = self._walltime(walltime, "scalar")
        if common.is_cuda(value):
            # .item() would wait for the GPU; read it on the delivery thread instead
            common.check_one_number(value, "scalar", "value")
            read = scalar.read_later(value)

            def later(s: int) -> Pending:
                def make() -> Scalar:
                    number = read()
                    if not math.isfinite(number):
                        self._warn_not_finite(tag, number, s)
                    return Scalar(tag, s, wall, number)
                return Pending(make)

            self._emit("scalar", tag, step, "scalar", later)
            return
        number = common.to_scalar(value, "scalar", "value")
        used = self._emit("scalar", tag, step, "scalar", lambda s: Scalar(tag, s, wall, number))
        if used is not None and not math.isfinite(number):
            self._warn_not_finite(tag, number, used)

    def _warn_not_finite(self, tag: str, number: float, step: int) -> None:
        self.warn_once("scalar", tag, f"vizlog: scalar {tag!r} is {number} at step {step}")

    def scalars(self, main_tag: str, tag_value_dict: dict[str, Any], step: int | None = None,
                walltime: float | None = None) -> None:
        """Several numbers drawn in one chart, one line per key."""
        if not self._active():
            return
        main_tag = common.check_tag(main_tag, "scalars", "main_tag")
        values = scalar.scalar_dict(tag_value_dict)
        wall = self._walltime(walltime, "scalars")
        used = self._emit("scalars", main_tag, step, "scalars",
                          lambda s: Scalars(main_tag, s, wall, values))
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad and used is not None:
            self.warn_once("scalars", main_tag,
                           f"vizlog: scalars {main_tag!r} has non-finite {bad} at step {used}")

    def histogram(self, tag: str, values: Any, step: int | None = None,
                  bins: Any = "tensorflow", walltime: float | None = None) -> None:
        """The distribution of ``values``, binned once (``bins`` as in ``add_histogram``).

        NaN and infinities cannot be binned: they are left out, with one warning per tag.
        """
        if not self._active():
            return
        tag = common.check_tag(tag, "histogram")
        wall = self._walltime(walltime, "histogram")
        checked_bins = histogram.check_bins(bins)
        if common.is_cuda(values):
            # binned where the tensor lives without waiting for it; only the counts travel
            common.check_numeric_tensor(values, "histogram", "values")
            histogram.check_size(values.numel(), checked_bins, "histogram")
            finish = histogram.bin_later(values, checked_bins)

            def later(s: int) -> Pending:
                def make() -> Histogram | None:
                    fields = finish()
                    self._warn_dropped(tag, s, int(fields["dropped"]), int(fields["num"]))
                    if fields["num"] == 0:
                        return None
                    return Histogram(tag, s, wall, **fields)
                return Pending(make)

            self._emit("histogram", tag, step, "histogram", later)
            return
        array, dropped = histogram.histogram_input(values, checked_bins)
        if array.size > BIN_LATER_ABOVE:
            # binning a large tensor happens on the delivery thread, from a private copy
            def make(s: int) -> Record | Pending:
                return Pending(
                    lambda: Histogram(tag, s, wall, **histogram.bin_values(array, checked_bins))
                )
        else:
            fields = histogram.bin_values(array, checked_bins)

            def make(s: int) -> Record | Pending:
                return Histogram(tag, s, wall, **fields)

        used = self._emit("histogram", tag, step, "histogram", make)
        if used is not None:
            self._warn_dropped(tag, used, dropped, array.size - dropped)

    def _warn_dropped(self, tag: str, step: int, dropped: int, kept: int) -> None:
        if kept == 0:
            self.warn_once("histogram-empty", tag,
                           f"vizlog: histogram {tag!r} at step {step} has no finite values; "
                           "nothing was logged for it")
        elif dropped:
            self.warn_once("histogram", tag,
                           f"vizlog: histogram {tag!r} at step {step}: left out {dropped} "
                           "NaN/infinite values")

    def image(self, tag: str, img: Any, step: int | None = None, dataformats: str | None = None,
              walltime: float | None = None) -> None:
        """A picture, or a batch (4-D) shown as a grid.

        ``dataformats`` (``"CHW"``, ``"HWC"``, ``"HW"``, ``"NCHW"``, ``"NHWC"``) is inferred
        when the shape allows only one.  uint8 means 0-255; floats mean 0-1 and are clipped to
        it (NaN shows black); other integers are clipped to 0-255.
        """
        if not self._active():
            return
        tag = common.check_tag(tag, "image")
        pixels = image.image_pixels(img, dataformats)
        wall = self._walltime(walltime, "image")
        self._emit("image", tag, step, "image", lambda s: Image(tag, s, wall, pixels))

    def embedding(self, mat: Any, metadata: Any = None, label_img: Any = None,
                  step: int | None = None, tag: str = "default",
                  metadata_header: Sequence[str] | None = None) -> None:
        """Points for the projector: ``mat`` (N, D), one metadata row and one label image
        (NCHW) per point."""
        if not self._active():
            return
        tag = common.check_tag(tag, "embedding")
        fields = embedding.embedding_fields(mat, metadata, label_img, metadata_header)
        wall = time.time()
        self._emit("embedding", tag, step, "embedding",
                   lambda s: Embedding(tag, s, wall, **fields))

    def graph(self, model: Any, input_to_model: Any = None) -> None:
        """The model's graph, traced on ``input_to_model``.  A model that cannot be traced
        gives a warning with the reason; its module structure is still logged."""
        if not self._active():
            return
        graph.check_model(model)
        graph_def, failure = graph.trace_graph_def(model, input_to_model)
        if failure is not None:
            warnings.warn(
                f"vizlog: cannot trace the graph of {type(model).__name__}: {failure}; only its "
                "module structure is logged",
                RuntimeWarning,
                stacklevel=2,
            )
        structure = graph.module_structure(model)
        wall = time.time()
        self._emit("graph", "graph", None, "graph",
                   lambda s: Graph("graph", s, wall, graph_def, structure))

    def pr_curve(self, tag: str, labels: Any, predictions: Any, step: int | None = None,
                 num_thresholds: int = 127, weights: Any = None,
                 walltime: float | None = None) -> None:
        """Precision-recall curve of binary ``labels`` against ``predictions`` in [0, 1]."""
        if not self._active():
            return
        tag = common.check_tag(tag, "pr_curve")
        fields = pr_curve.pr_curve_fields(labels, predictions, num_thresholds, weights)
        wall = self._walltime(walltime, "pr_curve")
        self._emit("pr_curve", tag, step, "pr_curve", lambda s: PRCurve(tag, s, wall, **fields))

    def text(self, tag: str, text: str, step: int | None = None,
             walltime: float | None = None) -> None:
        """A note.  TensorBoard renders it as Markdown; Visdom shows it escaped, as data."""
        if not self._active():
            return
        tag = common.check_tag(tag, "text")
        if not isinstance(text, str):
            raise VizlogTypeError(f"text(text=...): expected a string, got {type(text).__name__}")
        common.check_text(text, "text", "text")
        wall = self._walltime(walltime, "text")
        self._emit("text", tag, step, "text", lambda s: Text(tag, s, wall, text))

    # ------------------------------------------------------------------ lifetime

    def flush(self, timeout: float | None = None) -> bool:
        """Return when everything logged so far is written (or, for Visdom, delivered or
        spooled), or when ``timeout`` seconds have passed; False if the time ran out."""
        if self._closed or os.getpid() != self._pid:
            return True
        deadline = None if timeout is None else time.monotonic() + _seconds(timeout, "flush")
        done = True
        for sink in self._sinks:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            done = sink.flush(left) and done
        return done

    def close(self, timeout: float | None = None) -> bool:
        """Flush, then release the backends.  Calls after ``close`` are ignored, with a
        warning.

        ``timeout`` bounds the whole wait (at exit: ``lifecycle.EXIT_TIMEOUT``), so that a
        backend that hangs cannot hang the process; False if the time ran out.
        """
        deadline = None if timeout is None else time.monotonic() + _seconds(timeout, "close")
        if self._sampler is not None:
            self._sampler.stop()
        with self._lock:
            if self._closed:
                return True
            self._closed = True
        if os.getpid() != self._pid:
            return True
        done = True
        for sink in self._sinks:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            done = sink.close(left) and done
        lifecycle.unregister(self)
        return done

    def __enter__(self) -> Logger:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __reduce__(self) -> Any:
        raise TypeError(
            "a vizlog.Logger cannot be sent to another process (it owns open files and threads); "
            "create the Logger inside the process that logs, e.g. in the function given to "
            "torch.multiprocessing.spawn, with all_ranks=True for one run per process"
        )

    def __repr__(self) -> str:
        return f"Logger(backend={','.join(self.backends) or 'none'!r}, logdir={self.logdir!r})"


def _check_options(classes: list[type[Backend]], options: dict[str, Any]) -> None:
    accepted = {name for cls in classes for name in cls.options}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise VizlogTypeError(
            f"Logger(): unknown option(s) {', '.join(unknown)} for backend(s) "
            f"{', '.join(cls.name for cls in classes) or 'none'}; accepted: "
            f"{', '.join(sorted(accepted)) or 'none'}"
        )


def _check_logdir(logdir: str) -> None:
    try:
        os.makedirs(logdir, exist_ok=True)
        probe = os.path.join(logdir, f".vizlog-write-test-{os.getpid()}")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as exc:
        raise VizlogValueError(
            f"Logger(logdir=...): cannot write to {logdir!r} ({exc.strerror or exc}); "
            "pass a writable directory or set VIZLOG_LOGDIR"
        ) from exc


#: a queue longer than this would let the sender fall minutes behind (and hold gigabytes)
MAX_QUEUE_SIZE = 10_000_000


def _check_queue_size(queue_size: Any) -> int:
    if isinstance(queue_size, bool) or not isinstance(queue_size, int):
        raise VizlogTypeError(
            f"Logger(queue_size=...): expected an integer, got {type(queue_size).__name__}"
        )
    if not 1 <= queue_size <= MAX_QUEUE_SIZE:
        raise VizlogValueError(
            f"Logger(queue_size=...): expected 1 to {MAX_QUEUE_SIZE:,} records, got {queue_size}"
        )
    return queue_size


def _seconds(value: Any, method: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise VizlogValueError(f"{method}(timeout=...): expected seconds >= 0, got {value!r}")
    return float(value)
