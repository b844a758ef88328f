"""The Logger: the one place that looks at user input.

Each call is checked and converted once (``vizlog.convert``), stamped with tag, step and
walltime, turned into one record (``vizlog.records``) and handed to every backend in use.
A bad argument raises here, before any backend sees anything, so nothing of a bad call is
written.  Backends that do I/O run on their own background thread (``vizlog.delivery``).
"""

from __future__ import annotations

import atexit
import math
import os
import signal
import threading
import time
import warnings
from collections.abc import Sequence
from typing import Any

from vizlog import config, convert
from vizlog.backends import fake as fake_backend
from vizlog.backends import get_backend_class, parse_backend_names
from vizlog.backends.base import Backend
from vizlog.deferred import Pending, device_histogram, resolve, scalar_later
from vizlog.delivery import DEFAULT_QUEUE_SIZE, BackgroundDelivery
from vizlog.errors import VizlogTypeError, VizlogValueError
from vizlog.graph import check_model, module_structure, trace_graph_def
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

#: Strong references: an open Logger must live until it is closed (at exit at the latest),
#: or a run that drops its last reference without ``close()`` would lose what was queued.
_open_loggers: set[Logger] = set()


class _Inline:
    """A backend called on the logging thread (in-memory backends need no thread)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def write(self, item: Record | Pending) -> None:
        record = resolve(item)
        if record is not None:
            self.backend.write(record)

    def flush(self, timeout: float | None = None) -> bool:
        self.backend.flush()
        return True

    def close(self, timeout: float | None = None) -> bool:
        self.backend.close()
        return True


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
        **backend_options: Any,
    ) -> None:
        capture = fake_backend.capture if backend is None else None
        names = parse_backend_names(backend if backend is not None else config.backend_names())
        if capture is not None:
            names = ("fake",)
        self.rank = config.distributed_rank()
        self._off = self.rank != 0 and not all_ranks
        if logdir is None:
            logdir = config.logdir()
        logdir = os.fspath(logdir)
        if all_ranks:
            logdir = os.path.join(logdir, f"rank{self.rank}")
        self.logdir = logdir
        self.backends: tuple[str, ...] = () if self._off else names
        classes = [get_backend_class(name) for name in self.backends]
        self._check_options(classes, backend_options)
        if any(cls.writes_files for cls in classes):
            self._check_logdir(logdir)
        self._sinks: list[Any] = []
        try:
            for cls in classes:
                if cls is fake_backend.FakeBackend and capture is not None:
                    instance: Backend = capture
                else:
                    options = {k: v for k, v in backend_options.items() if k in cls.options}
                    instance = cls(logdir, **options)
                self._sinks.append(
                    BackgroundDelivery(instance, queue_size) if cls.threaded else _Inline(instance)
                )
        except BaseException:
            for sink in self._sinks:
                sink.close()
            raise
        self._emit_to = [sink.write for sink in self._sinks]
        self._lock = threading.Lock()
        self._last_step: dict[tuple[str, str], int] = {}
        self._warned: set[tuple[str, str]] = set()
        self._closed = False
        self._pid = os.getpid()
        _open_loggers.add(self)
        _install_exit_handlers()

    # ------------------------------------------------------------------ plumbing

    @staticmethod
    def _check_options(classes: list[type[Backend]], options: dict[str, Any]) -> None:
        accepted = {name for cls in classes for name in cls.options}
        unknown = sorted(set(options) - accepted)
        if unknown:
            raise VizlogTypeError(
                f"Logger(): unknown option(s) {', '.join(unknown)} for backend(s) "
                f"{', '.join(cls.name for cls in classes) or 'none'}; accepted: "
                f"{', '.join(sorted(accepted)) or 'none'}"
            )

    @staticmethod
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

    def get_backend(self, name: str) -> Backend:
        """The backend object in use under ``name`` (for example the ``"fake"`` one in tests)."""
        for sink in self._sinks:
            if sink.backend.name == name:
                return sink.backend
        raise KeyError(f"backend {name!r} is not in use; in use: {', '.join(self.backends)}")

    def _active(self) -> bool:
        if self._off:
            return False
        if self._closed or os.getpid() != self._pid:
            # after close(), or in a forked child (DataLoader workers): the parent's files and
            # threads are not ours to touch
            return False
        return True

    def _step(self, kind: str, tag: str, step: Any, method: str) -> int:
        """Called under the lock: the explicit step, or one more than the tag's last."""
        key = (kind, tag)
        if step is None:
            last = self._last_step.get(key)
            value = 0 if last is None else last + 1
            if value > convert.STEP_MAX:
                raise VizlogValueError(f"{method}(step=...): the next step does not fit in 64 bits")
        else:
            value = convert.to_step(step, method)
        self._last_step[key] = value
        return value

    def _walltime(self, walltime: Any, method: str) -> float:
        return time.time() if walltime is None else convert.to_walltime(walltime, method)

    def _emit(self, kind: str, tag: str, step: Any, method: str, make: Any) -> int:
        """Stamp the step and hand the record to every backend, in one critical section so
        that each tag's records reach the backends in step order."""
        with self._lock:
            number = self._step(kind, tag, step, method)
            record = make(number)
            for write in self._emit_to:
                write(record)
        return number

    def _warn_once(self, kind: str, tag: str, message: str) -> None:
        if (kind, tag) not in self._warned:
            self._warned.add((kind, tag))
            warnings.warn(message, RuntimeWarning, stacklevel=3)

    # ------------------------------------------------------------------ the eight concepts

    def scalar(self, tag: str, value: Any, step: int | None = None,
               walltime: float | None = None, *, reduce: str | None = None) -> None:
        """One number.  NaN and infinities are logged as they are, with one warning per tag.

        ``reduce`` (``"mean"``, ``"sum"``, ``"max"``, ``"min"``) combines the value across
        the ranks of ``torch.distributed`` before rank 0 logs it.  It is a collective: every
        rank must make the same call, in the same order, or training hangs.
        """
        if reduce is not None:
            value = _all_reduce(value, reduce)
        if not self._active():
            return
        tag = convert.check_tag(tag, "scalar")
        wall = self._walltime(walltime, "scalar")
        if convert.is_cuda(value):
            # .item() would wait for the GPU; read it on the delivery thread instead
            convert.check_one_number(value, "scalar", "value")
            read = scalar_later(value)
            self._emit("scalar", tag, step, "scalar",
                       lambda s: Pending(lambda: Scalar(tag, s, wall, read())))
            return
        number = convert.to_scalar(value, "scalar", "value")
        used = self._emit("scalar", tag, step, "scalar",
                          lambda s: Scalar(tag, s, wall, number))
        if not math.isfinite(number):
            self._warn_once("scalar", tag, f"vizlog: scalar {tag!r} is {number} at step {used}")

    def scalars(self, main_tag: str, tag_value_dict: dict[str, Any], step: int | None = None,
                walltime: float | None = None) -> None:
        """Several numbers drawn in one chart, one line per key."""
        if not self._active():
            return
        main_tag = convert.check_tag(main_tag, "scalars", "main_tag")
        values = convert.scalar_dict(tag_value_dict)
        wall = self._walltime(walltime, "scalars")
        used = self._emit("scalars", main_tag, step, "scalars",
                          lambda s: Scalars(main_tag, s, wall, values))
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad:
            self._warn_once("scalars", main_tag,
                            f"vizlog: scalars {main_tag!r} has non-finite {bad} at step {used}")

    def histogram(self, tag: str, values: Any, step: int | None = None,
                  bins: Any = "tensorflow", walltime: float | None = None) -> None:
        """The distribution of ``values``, binned once (``bins`` as in ``add_histogram``).

        NaN and infinities cannot be binned: they are left out, with one warning per tag.
        """
        if not self._active():
            return
        tag = convert.check_tag(tag, "histogram")
        wall = self._walltime(walltime, "histogram")
        if convert.is_cuda(values) and (isinstance(bins, str) and bins == "tensorflow"
                                        or not isinstance(bins, str | int)):
            # binned on the GPU without waiting for it; only the counts travel
            edges = convert.check_bins(bins)
            convert.check_numeric_tensor(values, "histogram", "values")
            finish = device_histogram(values, edges)

            def later(s: int) -> Pending:
                return Pending(lambda: _maybe(Histogram, tag, s, wall, finish()))

            self._emit("histogram", tag, step, "histogram", later)
            return
        array, checked_bins, dropped = convert.histogram_input(values, bins)
        if array.size > _BIN_LATER_ABOVE:
            # binning a large tensor happens on the delivery thread, from a private copy

            def make(s: int) -> Pending:
                return Pending(
                    lambda: Histogram(tag, s, wall, **convert.bin_values(array, checked_bins))
                )
        else:
            fields = convert.bin_values(array, checked_bins)

            def make(s: int) -> Histogram:
                return Histogram(tag, s, wall, **fields)

        used = self._emit("histogram", tag, step, "histogram", make)
        if dropped:
            self._warn_once("histogram", tag,
                            f"vizlog: histogram {tag!r} at step {used}: left out "
                            f"{dropped} NaN/infinite values")

    def image(self, tag: str, img: Any, step: int | None = None, dataformats: str | None = None,
              walltime: float | None = None) -> None:
        """A picture, or a batch (4-D) shown as a grid.

        ``dataformats`` (``"CHW"``, ``"HWC"``, ``"HW"``, ``"NCHW"``, ``"NHWC"``) is inferred
        when the shape allows only one.  uint8 means 0-255; floats mean 0-1 and are clipped to
        it (NaN shows black); other integers are clipped to 0-255.
        """
        if not self._active():
            return
        tag = convert.check_tag(tag, "image")
        pixels = convert.image_pixels(img, dataformats)
        wall = self._walltime(walltime, "image")
        self._emit("image", tag, step, "image", lambda s: Image(tag, s, wall, pixels))

    def embedding(self, mat: Any, metadata: Any = None, label_img: Any = None,
                  step: int | None = None, tag: str = "default",
                  metadata_header: Sequence[str] | None = None) -> None:
        """Points for the projector: ``mat`` (N, D), one metadata row and one label image
        (NCHW) per point."""
        if not self._active():
            return
        tag = convert.check_tag(tag, "embedding")
        fields = convert.embedding_fields(mat, metadata, label_img, metadata_header)
        wall = time.time()
        self._emit("embedding", tag, step, "embedding",
                   lambda s: Embedding(tag, s, wall, **fields))

    def graph(self, model: Any, input_to_model: Any = None) -> None:
        """The model's graph, traced on ``input_to_model``.  A model that cannot be traced
        gives a warning with the reason; its module structure is still logged."""
        if not self._active():
            return
        check_model(model)
        graph_def, failure = trace_graph_def(model, input_to_model)
        if failure is not None:
            warnings.warn(
                f"vizlog: cannot trace the graph of {type(model).__name__}: {failure}; only its "
                "module structure is logged",
                RuntimeWarning,
                stacklevel=2,
            )
        structure = module_structure(model)
        wall = time.time()
        self._emit("graph", "graph", None, "graph",
                   lambda s: Graph("graph", s, wall, graph_def, structure))

    def pr_curve(self, tag: str, labels: Any, predictions: Any, step: int | None = None,
                 num_thresholds: int = 127, weights: Any = None,
                 walltime: float | None = None) -> None:
        """Precision-recall curve of binary ``labels`` against ``predictions`` in [0, 1]."""
        if not self._active():
            return
        tag = convert.check_tag(tag, "pr_curve")
        fields = convert.pr_curve_fields(labels, predictions, num_thresholds, weights)
        wall = self._walltime(walltime, "pr_curve")
        self._emit("pr_curve", tag, step, "pr_curve", lambda s: PRCurve(tag, s, wall, **fields))

    def text(self, tag: str, text: str, step: int | None = None,
             walltime: float | None = None) -> None:
        """A note.  TensorBoard renders it as Markdown; Visdom shows it escaped, as data."""
        if not self._active():
            return
        tag = convert.check_tag(tag, "text")
        if not isinstance(text, str):
            raise VizlogTypeError(f"text(text=...): expected a string, got {type(text).__name__}")
        convert.check_text(text, "text", "text")
        wall = self._walltime(walltime, "text")
        self._emit("text", tag, step, "text", lambda s: Text(tag, s, wall, text))

    # ------------------------------------------------------------------ lifetime

    def flush(self) -> None:
        """Return when everything logged so far is written (or, for Visdom, delivered or
        spooled)."""
        if self._closed or os.getpid() != self._pid:
            return
        for sink in self._sinks:
            sink.flush()

    def close(self, timeout: float | None = None) -> None:
        """Flush, then release the backends.  Calls after ``close`` are ignored.

        ``timeout`` bounds the wait for each background backend (at exit: ``EXIT_TIMEOUT``),
        so that a backend that hangs cannot hang the process.
        """
        with _close_lock:
            if self._closed:
                return
            self._closed = True
        if os.getpid() != self._pid:
            return
        for sink in self._sinks:
            sink.close(timeout)
        _open_loggers.discard(self)

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


REDUCE_OPS = ("mean", "sum", "max", "min")


def _all_reduce(value: Any, reduce: str) -> Any:
    """``value`` combined over every rank (itself when not distributed)."""
    if reduce not in REDUCE_OPS:
        raise VizlogValueError(
            f"scalar(reduce=...): expected one of {', '.join(REDUCE_OPS)}, got {reduce!r}"
        )
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return value
    if convert.is_torch_tensor(value):
        convert.check_one_number(value, "scalar", "value")
        tensor = value.detach().reshape(1).to(torch.float64)
    else:
        tensor = torch.tensor([convert.to_scalar(value)], dtype=torch.float64)
    if dist.get_backend() == "nccl" and not tensor.is_cuda:
        tensor = tensor.to(torch.device("cuda", torch.cuda.current_device()))
    op = {"mean": dist.ReduceOp.SUM, "sum": dist.ReduceOp.SUM,
          "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}[reduce]
    dist.all_reduce(tensor, op=op)
    if reduce == "mean":
        tensor /= dist.get_world_size()
    return tensor


#: histograms of more values than this are binned on the delivery thread
_BIN_LATER_ABOVE = 65_536


def _maybe(cls: type[Record], tag: str, step: int, wall: float,
           fields: dict[str, Any] | None) -> Record | None:
    return None if fields is None else cls(tag, step, wall, **fields)


_close_lock = threading.Lock()
_exit_handlers_installed = False


#: seconds each background backend gets to finish at exit or SIGTERM
EXIT_TIMEOUT = 60.0


def close_all() -> None:
    """Close every open Logger (at interpreter exit and on SIGTERM)."""
    for logger in list(_open_loggers):
        try:
            logger.close(EXIT_TIMEOUT)
        except Exception:  # noqa: BLE001 - one logger's failure must not stop the others
            pass


def _on_sigterm(signum: int, frame: Any) -> None:
    # The handler runs on the main thread between two bytecodes, possibly inside a logging
    # call that holds a delivery lock: closing from here could wait on that lock forever.
    # Close from a helper thread instead; a second SIGTERM meanwhile ends the process at once.
    signal.signal(signum, signal.SIG_DFL)
    threading.Thread(
        target=_close_then_die, args=(signum,), name="vizlog-sigterm", daemon=False
    ).start()


def _close_then_die(signum: int) -> None:
    try:
        close_all()
    finally:
        os.kill(os.getpid(), signum)


def _install_exit_handlers() -> None:
    """Flush on normal exit (atexit) and on SIGTERM when nobody else handles it."""
    global _exit_handlers_installed
    # Exit functions run last-registered first.  Backends register their own (tensorboardX
    # closes its writer at exit); ours must run before those, while the writers still take
    # the records the delivery threads hold, so it moves to the front at every new Logger.
    atexit.unregister(close_all)
    atexit.register(close_all)
    if _exit_handlers_installed:
        return
    _exit_handlers_installed = True
    if threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                signal.signal(signal.SIGTERM, _on_sigterm)
        except (ValueError, OSError):
            pass


def _forget_after_fork() -> None:
    # The child has none of the parent's threads; its copies of the loggers stay silent.
    _open_loggers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)

