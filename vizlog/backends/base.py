"""The interface every backend implements: translate records, nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from vizlog.records import Record


def _no_pause() -> None:
    """Called on the training thread (an unthreaded backend): nothing to let run."""


class Backend:
    """A destination for records.

    ``write`` receives records that the Logger has already validated and converted; a
    backend never re-checks user input.  ``threaded = True`` asks the Logger to call
    ``write`` from a background thread (see ``vizlog.delivery``), so that slow I/O never
    runs on the training thread; such a backend is only ever called from that one thread.
    """

    name: ClassVar[str] = "backend"
    threaded: ClassVar[bool] = True
    #: keyword options of ``Logger(**backend_options)`` this backend takes
    options: ClassVar[tuple[str, ...]] = ()
    #: whether it writes under the logdir (then the Logger checks the logdir is writable)
    writes_files: ClassVar[bool] = True
    #: whether its logdir may be an fsspec URL (``s3://...``); others get a local directory
    #: standing for it (``storage.local_home``)
    remote_logdir: ClassVar[bool] = False

    def __init__(self, logdir: str, **options: Any) -> None:
        self.logdir = logdir
        #: seconds the sender may fall behind before logging calls wait for it (None: no
        #: bound); a backend whose durability promise depends on it sets it
        self.max_lag: float | None = None
        #: how often the sender looks for records when nothing calls for it sooner (every
        #: look takes the GIL from the training thread, so a backend that only needs its
        #: records by the next flush looks seldom)
        self.poll_seconds = 0.1
        #: a backend that runs Python over many records at once (Visdom's sends) calls this
        #: every ``WRITE_CHUNK`` or so of them: on the sender thread it lets a training
        #: thread back from torch take the interpreter (``vizlog.delivery``)
        self.pause: Callable[[], None] = _no_pause

    def write(self, record: Record) -> None:
        raise NotImplementedError

    def write_batch(self, records: list[Record]) -> list[tuple[Record, Exception]]:
        """Deliver several records in order; returns those that failed, with why.

        One record that fails must not stop the others: backends that batch override this
        and keep that rule.
        """
        failed = []
        for record in records:
            try:
                self.write(record)
            except Exception as exc:  # noqa: BLE001 - isolated and counted by the caller
                failed.append((record, exc))
        return failed

    def tick(self) -> None:
        """Called by the sender thread when idle (every ``poll_seconds``): retries, saves."""

    def flush(self, deadline: float | None = None) -> None:
        """Make everything written so far durable or delivered.

        ``deadline`` (a ``time.monotonic()`` value, None: none) is when the caller stops
        waiting; a backend whose delivery can take long (a slow server) keeps what it could
        not deliver by then where it is safe (Visdom: its spool) instead of running over.
        """

    def close(self, deadline: float | None = None) -> None:
        """Flush, then release files, sockets and threads (``deadline`` as for ``flush``)."""
        self.flush(deadline)
