"""What the Visdom backend tells the user: outages, disk trouble, and what is left at close.

Every message says where the records really are: in the spool file when the disk took
them, in memory (and lost if the process ends) when it did not.  A problem that goes on is
reported again at most every ``WARN_EVERY`` seconds, with the running counts.
"""

from __future__ import annotations

import time
import warnings

from vizlog.backends.visdom.sender import VisdomUnavailableWarning
from vizlog.backends.visdom.spool import MEMORY_LIMIT, Spool

WARN_EVERY = 30.0


class Notices:
    """The warnings of one backend (its server, environment and spool)."""

    def __init__(self, server: str, env: str, spool: Spool) -> None:
        self.server = server
        self.env = env
        self.spool = spool
        #: an outage not reported yet (reported once its records are kept somewhere)
        self.outage: Exception | None = None
        self._disk_warned_at = -WARN_EVERY
        self._reported_dropped = 0
        self._reported_recreated = 0

    def where(self) -> str:
        """Where records that cannot be delivered are kept now."""
        spool = self.spool
        if spool.disk_error is None:
            return f"records are kept in {spool.path}"
        return (
            f"the spool {spool.path} cannot be written ({reason(spool.disk_error)}), so "
            f"records are kept in memory ({spool.in_memory} now, up to {MEMORY_LIMIT >> 20} "
            "MiB; lost if the process ends) until the disk takes them"
        )

    def report(self, outages: int) -> None:
        """Issue the warnings due: a new outage, a spool made again after its directory
        was deleted, a disk that refuses the spool (repeated with counts)."""
        spool = self.spool
        if self.outage is not None:
            exc, self.outage = self.outage, None
            _warn(
                f"vizlog: the Visdom server at {self.server} does not answer ({exc}); "
                f"training goes on, {self.where()} and sent when it answers again "
                f"(outage {outages}, {time.strftime('%H:%M:%S')})"
            )
            self._disk_warned_at = time.monotonic()
        if spool.recreated > self._reported_recreated:
            self._reported_recreated = spool.recreated
            _warn(
                f"vizlog: the Visdom spool was deleted while the run went on; it was made "
                f"again at {spool.path} with the {spool.pending} records not delivered yet"
            )
        trouble = spool.in_memory or spool.dropped > self._reported_dropped
        if trouble and time.monotonic() - self._disk_warned_at >= WARN_EVERY:
            self._disk_warned_at = time.monotonic()
            self._reported_dropped = spool.dropped
            lost = f"; {spool.dropped} dropped in all (over that bound)" if spool.dropped else ""
            _warn(f"vizlog: Visdom ({self.server}, env {self.env!r}): {self.where()}{lost}")

    def left_behind(self, kept_journal: bool) -> str | None:
        """At close: every record not yet safe, and where it is (None: all are safe)."""
        spool = self.spool
        on_disk = spool.pending - spool.in_memory
        parts = []
        if on_disk:
            parts.append(f"{on_disk} records were not delivered; they are kept in {spool.path}")
        if spool.in_memory:
            parts.append(
                f"{spool.in_memory} records were not delivered and could not be written to "
                f"disk ({reason(spool.disk_error)}): they are lost when this process ends"
            )
        if spool.dropped:
            parts.append(
                f"{spool.dropped} records were dropped (the disk refused them and memory held "
                f"{MEMORY_LIMIT >> 20} MiB)"
            )
        unsaved = spool.ledger.unsaved_points
        if unsaved:
            where = f"kept in {spool.journal_path}" if kept_journal else "not kept: disk error"
            parts.append(
                f"{unsaved} points the server received were not saved by it yet ({where}, "
                "to restore them if the server loses them)"
            )
        if not parts:
            return None
        hint = f". Deliver them with: vizlog replay {spool.logdir}"
        if not (on_disk or kept_journal):
            hint = ""
        return f"vizlog: Visdom ({self.server}, env {self.env!r}): " + "; ".join(parts) + hint


def reason(exc: OSError | None) -> str:
    return "unknown error" if exc is None else (exc.strerror or str(exc))


def _warn(message: str) -> None:
    warnings.warn(message, VisdomUnavailableWarning, stacklevel=4)


__all__ = ["Notices", "WARN_EVERY"]
