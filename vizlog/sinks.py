"""Which backends a Logger gets, with which options, each behind its delivery (a background
thread for backends that do I/O, inline for in-memory ones).

Kept apart from the Logger so that the facade only logs, and so that the drop-in
``SummaryWriter`` can ask which writer options the chosen backends take.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vizlog import config, logdirs
from vizlog.backends import fake as fake_backend
from vizlog.backends import get_backend_class, parse_backend_names
from vizlog.backends.base import Backend
from vizlog.delivery import BackgroundDelivery, InlineDelivery, Sink
from vizlog.errors import VizlogTypeError, VizlogValueError

#: a queue longer than this would let the sender fall minutes behind (and hold gigabytes)
MAX_QUEUE_SIZE = 10_000_000


def resolve(backend: str | Sequence[str] | None,
            ) -> tuple[tuple[str, ...], list[type[Backend]], Backend | None]:
    """The backend names and classes a Logger made with ``backend`` uses, and the fake
    backend to record into (inside the ``vizlog_fake`` fixture, a Logger that names no
    backend records into the fixture's)."""
    capture = fake_backend.capture if backend is None else None
    if capture is not None:
        names: tuple[str, ...] = ("fake",)
    else:
        chosen: Any = config.backend_names() if backend is None else backend
        names = parse_backend_names(chosen)  # checks the type itself
    return names, [get_backend_class(name) for name in names], capture


def accepted_options(classes: list[type[Backend]]) -> set[str]:
    return {name for cls in classes for name in cls.options}


def check_options(classes: list[type[Backend]], options: dict[str, Any]) -> None:
    accepted = accepted_options(classes)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise VizlogTypeError(
            f"Logger(): unknown option(s) {', '.join(unknown)} for backend(s) "
            f"{', '.join(cls.name for cls in classes) or 'none'}; accepted: "
            f"{', '.join(sorted(accepted)) or 'none'}"
        )


def check_queue_size(queue_size: Any) -> int:
    if isinstance(queue_size, bool) or not isinstance(queue_size, int):
        raise VizlogTypeError(
            f"Logger(queue_size=...): expected an integer, got {type(queue_size).__name__}"
        )
    if not 1 <= queue_size <= MAX_QUEUE_SIZE:
        raise VizlogValueError(
            f"Logger(queue_size=...): expected 1 to {MAX_QUEUE_SIZE:,} records, got {queue_size}"
        )
    return queue_size


def open_sinks(classes: list[type[Backend]], logdir: str, options: dict[str, Any],
               queue_size: int, capture: Backend | None = None) -> list[Sink]:
    """One started delivery per backend; if one fails to start, those started are closed.

    A backend that cannot write to a store (Visdom's spool) gets a local stand-in of a URL.
    """
    local = logdirs.local_home(logdir) if logdirs.is_url(logdir) else logdir
    store_options = logdirs.check_options(options.get("storage_options"))
    for where in dict.fromkeys(logdir if cls.remote_logdir else local
                               for cls in classes if cls.writes_files):
        logdirs.check_logdir(where, store_options)
    sinks: list[Sink] = []
    try:
        for cls in classes:
            if cls is fake_backend.FakeBackend and capture is not None:
                instance: Backend = capture
            else:
                instance = cls(logdir if cls.remote_logdir else local,
                               **{k: v for k, v in options.items() if k in cls.options})
            sinks.append(BackgroundDelivery(instance, queue_size) if cls.threaded
                         else InlineDelivery(instance))
    except BaseException:
        for sink in sinks:
            sink.close()
        raise
    return sinks
