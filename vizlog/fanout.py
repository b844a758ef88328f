"""The machinery behind a Logger's calls: its backends (each behind its delivery), the
lock that orders records, step numbering, and the end of its life (flush, close).

``vizlog.logger.Logger`` is the facade built on it: one method per concept, each checking
its arguments and handing records to ``_emit``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from vizlog import config, distributed, lifecycle, logdirs, sinks
from vizlog import system_metrics as system_metrics_
from vizlog.backends.base import Backend
from vizlog.concepts import common
from vizlog.deferred import Pending
from vizlog.delivery import DEFAULT_QUEUE_SIZE, Sink
from vizlog.errors import VizlogValueError
from vizlog.records import Record

#: tags already checked, remembered per Logger (up to this many) so that the common call
#: (``Logger.scalar`` with a float, an int step and a tag logged before) skips the checks
#: and the lock: it packs its record and puts it straight into each backend's queue
MAX_KNOWN_TAGS = 10_000


class FanOut:
    """Stamps records with their step and hands them to every backend in use."""

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
        queue_size = sinks.check_queue_size(queue_size)
        # Options are checked on every rank, against the backends asked for, so that a call
        # that works on rank 0 works (and does nothing) on the others.
        names, classes, capture = sinks.resolve(backend)
        sinks.check_options(classes, backend_options)
        sample_every = system_metrics_.resolve(system_metrics, system_interval)
        self.rank = distributed.rank()
        self._off = not distributed.is_logging_rank(self.rank, all_ranks)
        logdir = logdirs.normalise(os.fspath(config.logdir() if logdir is None else logdir))
        if all_ranks:
            logdir = os.path.join(logdir, f"rank{self.rank}")
        self.logdir = logdir
        self.backends: tuple[str, ...] = () if self._off else names
        self._sinks: list[Sink] = [] if self._off else sinks.open_sinks(
            classes, logdir, backend_options, queue_size, capture)
        #: what the quick path puts a packed record in, one per backend (``Sink.put``)
        self._puts = tuple(sink.put for sink in self._sinks)
        self._lock = threading.Lock()
        #: each kind's last step per tag; the quick path writes the first two directly
        self._scalar_steps: dict[str, int] = {}
        self._scalars_steps: dict[str, int] = {}
        self._last_step: dict[str, dict[str, int]] = {
            "scalar": self._scalar_steps, "scalars": self._scalars_steps}
        self._warned: set[tuple[str, str]] = set()
        self._closed = False
        self._pid = os.getpid()
        self._known_tags: set[str] = set()
        # before register(): a close() at exit may come as soon as the Logger is registered
        self._sampler = None if self._off or sample_every is None else (
            # self is the Logger: the sampler logs through its scalar()
            system_metrics_.SystemSampler(self, sample_every))  # type: ignore[arg-type]
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
        """Off on other ranks and in a forked child (DataLoader workers: the parent's files
        and threads are not ours to touch, see ``forked``); after ``close()`` too, with a
        warning naming the calling method."""
        if self._closed and not self._off:
            self._warn_closed(sys._getframe(1).f_code.co_name)
        return not (self._off or self._closed)

    def forked(self) -> None:
        """Called in a forked child (``lifecycle``): this copy of the Logger stays silent."""
        self._off = True
        self._known_tags = set()  # no quick path either (a new set: the lock may be held)

    def _known(self, tag: str) -> str:
        """``tag``, checked, remembered as good: from now on its calls may take the quick
        path, which only a Logger that is open and not off may offer."""
        with self._lock:
            if len(self._known_tags) < MAX_KNOWN_TAGS and not (self._closed or self._off):
                self._known_tags.add(tag)
        return tag

    def _step(self, kind: str, tag: str, step: Any, method: str) -> int:
        """Called under the lock: the explicit step, or one more than the tag's last."""
        steps = self._last_step.get(kind)
        if steps is None:
            steps = self._last_step[kind] = {}
        if step is None:
            last = steps.get(tag)
            value = 0 if last is None else last + 1
            if value > common.STEP_MAX:
                raise VizlogValueError(f"{method}(step=...): the next step does not fit in 64 bits")
        else:
            value = common.to_step(step, method)
        steps[tag] = value
        return value

    @staticmethod
    def _walltime(walltime: Any, method: str) -> float:
        return time.time() if walltime is None else common.to_walltime(walltime, method)

    def _emit(self, kind: str, tag: str, step: Any, method: str,
              make: Callable[[int], Record | Pending | list[Record]]) -> int | None:
        """Stamp the step and hand the record(s) to every backend, in one critical section so
        that each tag's records reach the backends in step order, and so that a call racing
        with ``close()`` is either delivered before it or reported as too late."""
        with self._lock:
            if self._closed:
                self._warn_closed(method)
                return None
            number = self._step(kind, tag, step, method)
            made = make(number)
            for record in made if isinstance(made, list) else (made,):
                for sink in self._sinks:
                    sink.write(record)
        return number

    def _warn_closed(self, method: str) -> None:
        self.warn_once("closed", method, f"vizlog: {method}() after the Logger was closed; "
                       "nothing is logged (create a new Logger to log more)")

    def warn_once(self, kind: str, tag: str, message: str) -> None:
        """One warning per (kind, tag); safe from any thread."""
        key = (kind, tag)
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, RuntimeWarning, stacklevel=3)

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
            self._known_tags.clear()  # calls after this take the full path, which warns
        if os.getpid() != self._pid:
            return True
        done = True
        for sink in self._sinks:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            done = sink.close(left) and done
        lifecycle.unregister(self)
        return done

    def __enter__(self) -> Any:
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


def _seconds(value: Any, method: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise VizlogValueError(f"{method}(timeout=...): expected seconds >= 0, got {value!r}")
    return float(value)

