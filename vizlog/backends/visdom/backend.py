"""The Visdom backend: records to a Visdom server, without ever stalling or crashing training.

The Logger runs this backend on its own delivery thread (``threaded = True``), so the
training thread only enqueues records.  Here, on that thread:

- a batch of records becomes as few requests as possible: all points of one trace go in one
  append, and a window that only shows its latest value gets only the latest of the batch
  (``sender``);
- when the server does not answer (every request has a timeout), the records go to this
  backend's own spool under the logdir (``spool``), one warning is issued for the outage, and
  later attempts are spaced out (``connection``);
- no call spends more than a bounded time sending: a batch or an idle tick about
  ``SLICE_SECONDS``, ``flush`` and ``close`` their deadline (the caller's ``timeout``, else
  ``FLUSH_SECONDS`` / ``CLOSE_SECONDS``); what a slow server has not taken by then waits in
  the spool and goes out on later ticks;
- when the server answers again, the ledger of what it confirmed (``ledger``, saved with the
  spool) is compared with its windows: points it lost in a restart are sent again, points
  whose answer was lost are not sent twice.  Then the spool goes out, in order, then new
  records;
- the environment is saved on the server at most every ``save_interval`` seconds when
  something new arrived, and at ``close()``, so a server restart keeps the plots.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from typing import Any, ClassVar

from vizlog import config
from vizlog.backends.base import Backend
from vizlog.backends.visdom.connection import Connection, expired
from vizlog.backends.visdom.http import VisdomHTTP, VisdomRejected, VisdomUnavailable, parse_server
from vizlog.backends.visdom.ledger import JOURNAL_LIMIT
from vizlog.backends.visdom.notices import Notices
from vizlog.backends.visdom.sender import CHUNK, CHUNK_BYTES, Sender, VisdomUnavailableWarning
from vizlog.backends.visdom.spool import Spool
from vizlog.records import Record

_log = logging.getLogger(__name__)

DEFAULT_SAVE_INTERVAL = 60.0
#: seconds records wait so that many points of a window share one request: the Visdom server
#: rewrites a whole window on every append, so fewer, larger requests cost it (and the cores
#: it shares with training) far less.  A live plot lags by at most about this, plus the
#: sender's idle tick (0.1 s) when logging stops.
SEND_INTERVAL = 1.0
#: ... and longer when sending takes long: a send that took ``t`` seconds (the sender's work
#: and the server's, which grows with the windows) waits ``t / SEND_SHARE`` (at most
#: ``SEND_INTERVAL_MAX``) before the next, so that a long run's growing windows keep to
#: about this share of the time, on cores that training shares more often than not
SEND_SHARE, SEND_INTERVAL_MAX = 0.03, 10.0
#: seconds one batch or idle tick may spend sending (no request is begun after that)
SLICE_SECONDS = 2.0
#: ... one ``flush()`` and one ``close()`` given no timeout of their own
FLUSH_SECONDS = 10.0
CLOSE_SECONDS = 30.0


class VisdomBackend(Backend):
    """Show records in a Visdom environment; see the module docstring for delivery."""

    name: ClassVar[str] = "visdom"
    threaded: ClassVar[bool] = True
    options: ClassVar[tuple[str, ...]] = (
        "server",
        "env",
        "username",
        "password",
        "save_interval",
        "timeout",
        "embedding_dims",
    )

    def __init__(
        self,
        logdir: str,
        server: str | None = None,
        env: str | None = None,
        username: str | None = None,
        password: str | None = None,
        *,
        save_interval: float | None = None,
        timeout: float | None = None,
        embedding_dims: int = 2,
        spool: Spool | None = None,
        **ignored_other_options: Any,
    ) -> None:
        super().__init__(logdir)
        self.server = parse_server(server if server is not None else config.visdom_server())
        self.env = _check_env(env if env is not None else _default_env(logdir))
        env_user, env_password = config.visdom_credentials()
        username = username if username is not None else env_user
        password = password if password is not None else env_password
        if username is not None and not isinstance(username, str):
            raise TypeError("VisdomBackend(username=...): expected a string")
        if username and not password:
            raise ValueError("VisdomBackend(password=...): a username was given without password")
        self.save_interval = _positive(
            DEFAULT_SAVE_INTERVAL if save_interval is None else save_interval, "save_interval"
        )
        self.timeout = _positive(5.0 if timeout is None else timeout, "timeout")
        if embedding_dims not in (2, 3) or isinstance(embedding_dims, bool):
            raise ValueError(
                f"VisdomBackend(embedding_dims=...): expected 2 or 3, got {embedding_dims!r}"
            )
        http = VisdomHTTP(
            self.server,
            username,
            password,
            connect_timeout=min(1.0, self.timeout),
            read_timeout=self.timeout,
        )
        self.spool = spool if spool is not None else Spool.claim(logdir, self.server, self.env)
        self.sender = Sender(
            http, self.env, self.spool, {"embedding_dims": int(embedding_dims)}, self.timeout
        )
        self.sender.pause = lambda: self.pause()  # the delivery thread sets it later
        self.connection = Connection()
        self._closed = False
        self._last_save = time.monotonic()
        self.delivered = 0  # records fully delivered by this backend (for replay's count)
        self._held: list[Record] = []  # waiting to be sent together (at most SEND_INTERVAL)
        self._sent_at = time.monotonic()
        self._send_took = 0.0  # seconds the last send took (see SEND_SHARE)
        self._commit_due = False  # the ledger must go to disk with the spool
        self.notices = Notices(self.server, self.env, self.spool)

    @property
    def outages(self) -> int:
        return self.connection.outages

    @property
    def _http(self) -> VisdomHTTP:
        """The HTTP client (tests wrap it to lose answers or count requests)."""
        return self.sender.http

    @_http.setter
    def _http(self, http: VisdomHTTP) -> None:
        self.sender.http = http

    # ------------------------------------------------------------------ Backend interface

    def write(self, record: Record) -> None:
        self.write_batch([record])

    def write_batch(self, records: list[Record]) -> list[tuple[Record, Exception]]:
        """Hold records for up to ``SEND_INTERVAL`` so that each window gets one request for
        many points, then deliver them if the server answers, else spool them."""
        self._held.extend(records)
        if len(self._held) >= CHUNK or self._send_due():
            self._send_held(time.monotonic() + SLICE_SECONDS)
            self._report()
        return []

    def flush(self, deadline: float | None = None) -> None:
        """Everything written so far is delivered or spooled when this returns (spooled:
        on disk, or in memory while the disk refuses, as the warnings say)."""
        if self._closed:
            return
        deadline = time.monotonic() + FLUSH_SECONDS if deadline is None else deadline
        self._send_held(deadline)
        self._catch_up(deadline)
        self._report()

    def tick(self) -> None:
        """Send held records when due, retry a down server when its back-off has passed,
        save when due.  Cheap when there is nothing to do (the sender calls it when idle)."""
        if self._closed:
            return
        deadline = time.monotonic() + SLICE_SECONDS
        if self._held and self._send_due():
            self._send_held(deadline)
        self._catch_up(deadline)
        self._report()

    def close(self, deadline: float | None = None, quiet: bool = False) -> None:
        """Deliver what can be delivered by ``deadline``, save the environment, release the
        connection and the spool; report every record not yet safe, and where it is.

        A server that is down gets one more attempt (regardless of the back-off).
        """
        if self._closed:
            return
        now = time.monotonic()
        end = now + CLOSE_SECONDS if deadline is None else deadline
        # keep time for the save and the spool: stop sending a little before the end
        sending_end = end - min(self.timeout, max(0.0, end - now) / 4)
        self.sender.hard_deadline = end
        self._send_held(sending_end)
        if (not self.connection.connected or self.spool.pending) and not expired(sending_end):
            if self._ensure_connected(sending_end, force=True, announce=not quiet):
                self._drain(sending_end, announce=not quiet)
        if not expired(end, self.sender.typical):
            self._maybe_save(force=True)
        self.spool.retry_disk(force=True)
        self._closed = True
        if not quiet:
            self._report()
        kept_journal = bool(self.spool.ledger.unsaved_points) and self.spool.commit()
        message = None if quiet else self.notices.left_behind(kept_journal)
        self.spool.close()
        self.sender.http.close()
        if message:
            warnings.warn(message, VisdomUnavailableWarning, stacklevel=2)

    def replay_spool(self) -> int:
        """Deliver the whole spool now (``vizlog replay``), and restore what the server lost
        of what was delivered before; raises ConnectionError if it cannot.  Returns how many
        records were delivered."""
        before = self.spool.pending
        if not self._ensure_connected(None, force=True, announce=False):
            raise ConnectionError(
                f"the Visdom server at {self.server} does not answer; {before} records stay "
                f"in {self.spool.path}"
            )
        self._drain(None, announce=False)
        if self.spool.pending:
            raise ConnectionError(
                f"the Visdom server at {self.server} stopped answering; "
                f"{before - self.spool.pending} records delivered, {self.spool.pending} stay "
                f"in {self.spool.path}"
            )
        self._maybe_save(force=True)
        return before

    # ------------------------------------------------------------------ sending

    def _send_due(self) -> bool:
        wait = max(SEND_INTERVAL, min(SEND_INTERVAL_MAX, self._send_took / SEND_SHARE))
        return time.monotonic() - self._sent_at >= wait

    def _send_held(self, deadline: float) -> None:
        records, self._held = self._held, []
        self._sent_at = time.monotonic()
        if not records:
            return
        self._send_records(records, deadline)
        self._send_took = time.monotonic() - self._sent_at

    def _send_records(self, records: list[Record], deadline: float) -> None:
        if self.spool.pending:  # after what waits already, in order
            self.spool.append(records)
            if self._ensure_connected(deadline):
                self._drain(deadline)
        elif self._ensure_connected(deadline):
            self._send_direct(records, deadline)
        else:
            self.spool.append(records)
        self._maybe_save()

    def _catch_up(self, deadline: float) -> None:
        self.spool.retry_disk()
        if not self.connection.connected or self.spool.pending:
            if self._ensure_connected(deadline):
                self._drain(deadline)
        self._maybe_save()

    def _send_direct(self, records: list[Record], deadline: float) -> None:
        for start in range(0, len(records), CHUNK):
            chunk = records[start : start + CHUNK]
            done: dict[int, set[str]] = {}
            try:
                complete = self.sender.deliver(chunk, done, deadline, checkpoint=False)
            except VisdomUnavailable as exc:
                self._spool_rest(records[start:], done)
                self._outage(exc)
                return
            if not complete:  # a slow server: the rest waits in the spool
                self._spool_rest(records[start:], done)
                return
            self.delivered += len(chunk)

    def _spool_rest(self, records: list[Record], done: dict[int, set[str]]) -> None:
        self.spool.append(records)
        self.spool.ledger.done = done
        self._commit_due = not self.spool.commit()

    def _drain(self, deadline: float | None, announce: bool = True) -> None:
        while self.connection.connected and self.spool.pending:
            if expired(deadline, self.sender.typical):
                return
            before = self.spool.pending
            records = self.spool.read(CHUNK, CHUNK_BYTES)
            if not records:
                if self.spool.pending < before:  # unreadable lines stepped over
                    continue
                break
            try:
                complete = self.sender.deliver(
                    records, self.spool.ledger.done, deadline, checkpoint=True
                )
            except VisdomUnavailable as exc:
                self.spool.commit()
                self._outage(exc, announce)
                return
            if not complete:
                return
            self.spool.consume(len(records))
            self.delivered += len(records)

    # ------------------------------------------------------------------ connection

    def _ensure_connected(
        self, deadline: float | None, force: bool = False, announce: bool = True
    ) -> bool:
        if self.connection.connected:
            return True
        if not self.connection.may_try(force):
            return False
        try:
            if not self.sender.reconcile(deadline):
                return False  # out of time, not out of service: go on next time
        except VisdomUnavailable as exc:
            self._outage(exc, announce)
            return False
        except VisdomRejected as exc:  # e.g. an environment the server cannot load
            self._outage(VisdomUnavailable(str(exc)), announce)
            return False
        down_for = self.connection.up()
        if down_for is not None:
            _log.info(
                "vizlog: Visdom server %s answers again after %.1f s; sending %d spooled records",
                self.server,
                down_for,
                self.spool.pending,
            )
        return True

    def _outage(self, exc: Exception, announce: bool = True) -> None:
        self.sender.server_lost()
        self._commit_due = True  # what was delivered but not saved goes to disk too
        if self.connection.down() and announce:
            self.notices.outage = exc

    def _maybe_save(self, force: bool = False) -> None:
        ledger = self.spool.ledger
        if not self.connection.connected or not (ledger.dirty or ledger.unsaved_points):
            return
        due = time.monotonic() - self._last_save >= self.save_interval
        if not (force or due or ledger.journal_size > JOURNAL_LIMIT):
            return
        try:
            self.sender.save()
        except VisdomUnavailable as exc:
            self._outage(exc)
            return
        except VisdomRejected as exc:
            _log.warning("vizlog: the Visdom server could not save env %r: %s", self.env, exc)
            return
        ledger.saved()
        self._last_save = time.monotonic()
        if self.spool.pending:
            self.spool.commit()
        elif self.spool.has_files:
            self.spool.clear()

    def _report(self) -> None:
        if self._commit_due and (self.spool.pending or self.spool.ledger.unsaved_points):
            self._commit_due = not self.spool.commit()
        self.notices.report(self.outages)

    def __repr__(self) -> str:
        state = "connected" if self.connection.connected else "not connected"
        return (
            f"<VisdomBackend {self.server} env={self.env!r} {state} spooled={self.spool.pending}>"
        )


def _default_env(logdir: str) -> str:
    configured = config.visdom_env()
    if configured:
        return configured
    name = os.path.basename(os.path.normpath(os.fspath(logdir)))
    return name or "main"


def _check_env(env: Any) -> str:
    if not isinstance(env, str):
        raise TypeError(f"VisdomBackend(env=...): expected a string, got {type(env).__name__}")
    if not env.strip():
        raise ValueError("VisdomBackend(env=...): the environment name is empty")
    return env.replace("/", "_")  # the server stores "a/b" as "a_b"; use the stored name


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"VisdomBackend({name}=...): expected a number of seconds")
    if not value > 0:
        raise ValueError(f"VisdomBackend({name}=...): expected a positive number, got {value}")
    return float(value)


__all__ = ["VisdomBackend", "VisdomUnavailableWarning"]
