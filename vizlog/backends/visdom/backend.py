"""The Visdom backend: records to a Visdom server, without ever stalling or crashing training.

The Logger runs this backend on its own delivery thread (``threaded = True``), so the
training thread only enqueues records.  Here, on that thread:

- a batch of records becomes as few requests as possible: all points of one trace go in one
  append, and a window that only shows its latest value gets only the latest of the batch;
- when the server does not answer (every request has a short timeout), the batch goes to a
  spool file under the logdir, one warning is issued for the outage, and later attempts are
  spaced out (0.5 s doubling to 30 s) instead of hammering the server or blocking;
- when the server answers again, the sender compares what the server holds with what it
  believes it sent: points lost by a server restart are sent again (the backend keeps every
  point delivered since the environment was last saved), points that arrived although their
  request timed out are not sent twice.  Then the spool goes out, in order, then new records;
- the environment is saved on the server at most every ``save_interval`` seconds when
  something new arrived, and at ``close()``, so a server restart keeps the plots.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

from vizlog import config
from vizlog.backends.base import Backend
from vizlog.backends.visdom.http import VisdomHTTP, VisdomRejected, VisdomUnavailable, parse_server
from vizlog.backends.visdom.payloads import (
    APPEND,
    TRACE,
    WINDOW,
    Op,
    append_message,
    count_for,
    record_ops,
    trace_messages,
    window_counts,
)
from vizlog.backends.visdom.spool import Spool
from vizlog.records import Record, to_json

_log = logging.getLogger(__name__)

RETRY_FIRST = 0.5
RETRY_MAX = 30.0
DEFAULT_SAVE_INTERVAL = 60.0
PROBE_TIMEOUT = 2.0  # a server that takes longer to answer "are you there" counts as down
CHUNK = 10_000  # records sent (or read back from the spool) together
#: seconds records wait so that many points of a window share one request: the Visdom server
#: rewrites a whole window on every append, so fewer, larger requests cost it (and the cores
#: it shares with training) far less.  A live plot lags by at most about this, plus the
#: sender's idle tick (0.5 s) when logging stops.
SEND_INTERVAL = 1.0
CHUNK_BYTES = 64 << 20  # and at most this much spool read back at once
JOURNAL_LIMIT = 200_000  # points kept for re-sending; more forces a save of the environment
REJECTED_FILE = "visdom-rejected.jsonl"


class VisdomUnavailableWarning(UserWarning):
    """The Visdom server stopped answering; records are being spooled."""


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
        read_timeout = _positive(5.0 if timeout is None else timeout, "timeout")
        if embedding_dims not in (2, 3) or isinstance(embedding_dims, bool):
            raise ValueError(
                f"VisdomBackend(embedding_dims=...): expected 2 or 3, got {embedding_dims!r}"
            )
        self._options = {"embedding_dims": int(embedding_dims)}
        self._http = VisdomHTTP(
            self.server,
            username,
            password,
            connect_timeout=min(1.0, read_timeout),
            read_timeout=read_timeout,
        )
        self._probe_timeout = min(PROBE_TIMEOUT, read_timeout)
        self.spool = Spool(logdir)
        self.spool.set_meta(server=self.server, env=self.env)

        self._connected = False
        self._ever_connected = False
        self._closed = False
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._backoff = RETRY_FIRST
        self.outages = 0
        # what the server holds, as far as confirmed answers tell (append traces only)
        self._belief: dict[str, int] = {}
        self._baseline: dict[str, dict[str, int]] = {}  # window -> counts at last reconcile
        # delivered since the environment was last saved, to send again after a restart
        self._journal: dict[str, list[Any]] = {}
        self._journal_ops: dict[str, Op] = {}
        self._journal_size = 0
        self._unsaved: dict[str, Op] = {}
        self._dirty = False
        self._last_save = time.monotonic()
        self._warned_rejected: set[str] = set()
        self.delivered = 0  # records fully delivered by this backend (for replay's count)
        self._held: list[Record] = []  # waiting to be sent together (at most SEND_INTERVAL)
        self._sent_at = time.monotonic()

    # ------------------------------------------------------------------ Backend interface

    def write(self, record: Record) -> None:
        self.write_batch([record])

    def write_batch(self, records: list[Record]) -> list[tuple[Record, Exception]]:
        """Hold records for up to ``SEND_INTERVAL`` so that each window gets one request for
        many points, then deliver them if the server answers, else spool them."""
        self._held.extend(records)
        if len(self._held) >= CHUNK or time.monotonic() - self._sent_at >= SEND_INTERVAL:
            self._send_held()
        return []

    def _send_held(self) -> None:
        records, self._held = self._held, []
        self._sent_at = time.monotonic()
        if not records:
            return
        if not self._ensure_connected():
            self.spool.append(records)
            return
        if self.spool.pending:
            self.spool.append(records)
            self._drain()
        else:
            self._send_direct(records)
        self._maybe_save()

    def flush(self) -> None:
        """Everything written so far is delivered or in the spool when this returns."""
        self._send_held()
        self.tick()

    def tick(self) -> None:
        """Retry a down server when its back-off has passed, save when due.

        Cheap when there is nothing to do, so the delivery thread may call it when idle.
        """
        if self._closed:
            return
        if self._held and time.monotonic() - self._sent_at >= SEND_INTERVAL:
            self._send_held()
        if (not self._connected or self.spool.pending) and self._ensure_connected():
            self._drain()
        self._maybe_save()

    def close(self, quiet: bool = False) -> None:
        """Deliver what can be delivered now, save the environment, release the connection.

        A server that is down gets one more attempt (regardless of the back-off); what
        still cannot be delivered stays in the spool for ``vizlog replay``.
        """
        if self._closed:
            return
        self._send_held()
        if not self._connected or self.spool.pending:
            if self._ensure_connected(force=True):
                self._drain()
        if self._connected:
            self._maybe_save(force=True)
        self._closed = True
        remaining = self.spool.pending
        self.spool.close()
        self._http.close()
        if remaining and not quiet:
            warnings.warn(
                f"vizlog: {remaining} records for Visdom ({self.server}, env {self.env!r}) "
                f"were not delivered; they are kept in {self.spool.path}. Deliver them with: "
                f"vizlog replay {self.logdir}",
                VisdomUnavailableWarning,
                stacklevel=2,
            )

    def replay_spool(self) -> int:
        """Deliver the whole spool now (``vizlog replay``); raises ConnectionError if it
        cannot.  Returns how many records were delivered."""
        before = self.spool.pending
        if not self._ensure_connected(force=True, announce=False):
            raise ConnectionError(
                f"the Visdom server at {self.server} does not answer; {before} records stay "
                f"in {self.spool.path}"
            )
        self._drain(announce=False)
        if self.spool.pending:
            raise ConnectionError(
                f"the Visdom server at {self.server} stopped answering; "
                f"{before - self.spool.pending} records delivered, {self.spool.pending} stay "
                f"in {self.spool.path}"
            )
        self._maybe_save(force=True)
        return before

    # ------------------------------------------------------------------ connection

    def _ensure_connected(self, force: bool = False, announce: bool = True) -> bool:
        if self._connected:
            return True
        if not force and time.monotonic() < self._retry_at:
            return False
        try:
            self._reconcile()
        except VisdomUnavailable as exc:
            self._outage(exc, announce)
            return False
        except VisdomRejected as exc:  # e.g. an environment the server cannot load
            self._outage(VisdomUnavailable(str(exc)), announce)
            return False
        if self._down_since is not None:
            _log.info(
                "vizlog: Visdom server %s answers again after %.1f s; sending %d spooled records",
                self.server,
                time.monotonic() - self._down_since,
                self.spool.pending,
            )
        self._connected = True
        self._down_since = None
        self._backoff = RETRY_FIRST
        return True

    def _outage(self, exc: Exception, announce: bool = True) -> None:
        now = time.monotonic()
        self._connected = False
        if self._down_since is None:
            self._down_since = now
            self._backoff = RETRY_FIRST
            self.outages += 1
            if announce:
                warnings.warn(
                    f"vizlog: the Visdom server at {self.server} does not answer ({exc}); "
                    f"training goes on, records are kept in {self.spool.path} and sent when "
                    f"it answers again (outage {self.outages}, "
                    f"{time.strftime('%H:%M:%S')})",
                    VisdomUnavailableWarning,
                    stacklevel=2,
                )
        else:
            self._backoff = min(self._backoff * 2, RETRY_MAX)
        self._retry_at = now + self._backoff

    def _reconcile(self) -> None:
        """Make the server's windows match what was delivered, before sending anything new."""
        import json

        self._http.post("env/" + self.env, {"eid": self.env}, timeout=self._probe_timeout)
        answer = self._http.post("win_data", {"win": None, "eid": self.env})
        try:
            windows = json.loads(answer)
        except ValueError as exc:
            raise VisdomRejected(f"unreadable window data: {answer[:100]!r}") from exc
        counts = {win: window_counts(data) for win, data in windows.items()}
        head = self.spool.read(CHUNK, CHUNK_BYTES) if self.spool.pending else []
        if self._ever_connected:
            # traces first written by the request that failed: what did the server hold then?
            for record in head:
                for op in record_ops(record, self._options):
                    if op.mode == APPEND and op.key not in self._belief:
                        self._belief[op.key] = count_for(self._baseline.get(op.win, {}), op)
                        self._journal_ops[op.key] = op
        self._baseline = counts
        self._ever_connected = True
        surplus: dict[str, int] = {}
        for key, believed in list(self._belief.items()):
            op = self._journal_ops[key]
            held = count_for(counts.get(op.win, {}), op)
            if held < believed:  # the server lost points (restarted from an older save)
                self._resend_lost(key, op, believed - held, held)
            elif held > believed:  # a request that timed out had arrived after all
                surplus[key] = held - believed
        if surplus:
            self._claim_surplus(head, surplus)
        for key, op in list(self._unsaved.items()):  # harmless to repeat; lost if restarted
            try:
                self._send_replace(op)
            except VisdomRejected as exc:
                del self._unsaved[key]
                _log.warning("vizlog: Visdom refused to restore window %r: %s", op.win, exc)

    def _resend_lost(self, key: str, op: Op, missing: int, held: int) -> None:
        items = self._journal.get(key, [])
        if missing > len(items):
            warnings.warn(
                f"vizlog: the Visdom server lost {missing - len(items)} points of window "
                f"{op.win!r} that were delivered before its last save; they cannot be resent",
                VisdomUnavailableWarning,
                stacklevel=2,
            )
        resend = items[-missing:] if missing <= len(items) else items
        if resend:
            try:
                self._post_checked(op.win, "update", append_message(op, resend))
            except VisdomRejected as exc:
                _log.warning("vizlog: Visdom refused to restore window %r: %s", op.win, exc)
                resend = []
        self._belief[key] = held + len(resend)
        self._dirty = True

    def _claim_surplus(self, records: list[Record], surplus: dict[str, int]) -> None:
        """Mark as delivered the first spooled points of traces the server already has."""
        done = self.spool.done
        for i, record in enumerate(records):
            for op in record_ops(record, self._options):
                left = surplus.get(op.key, 0)
                if left and op.mode == APPEND and op.key not in done.get(i, set()):
                    done.setdefault(i, set()).add(op.key)
                    surplus[op.key] = left - len(op.items)
                    self._confirm_append(op, list(op.items))
        self.spool.set_done(done)
        for key, left in surplus.items():  # written by someone else: take the server's word
            self._belief[key] = self._belief.get(key, 0) + max(left, 0)

    # ------------------------------------------------------------------ delivery

    def _send_direct(self, records: Sequence[Record]) -> None:
        for start in range(0, len(records), CHUNK):
            chunk = records[start : start + CHUNK]
            done: dict[int, set[str]] = {}
            try:
                self._deliver(chunk, done)
            except VisdomUnavailable as exc:
                self.spool.append(records[start:])
                self.spool.set_done(done)
                self._outage(exc)
                return
            self.delivered += len(chunk)

    def _drain(self, announce: bool = True) -> None:
        while self._connected and self.spool.pending:
            records = self.spool.read(CHUNK, CHUNK_BYTES)
            done = self.spool.done
            try:
                self._deliver(records, done)
            except VisdomUnavailable as exc:
                self.spool.set_done(done)
                self._outage(exc, announce)
                return
            self.spool.consume(len(records))
            self.delivered += len(records)

    def _deliver(self, records: Sequence[Record], done: dict[int, set[str]]) -> None:
        """Send every op of ``records`` not in ``done``, grouped; ``done`` grows as answers
        arrive, so that after a failure it says exactly what is left."""
        groups: dict[str, list[tuple[int, Op]]] = {}
        for i, record in enumerate(records):
            finished = done.get(i, ())
            for op in record_ops(record, self._options):
                if op.key not in finished:
                    groups.setdefault(op.key, []).append((i, op))
        for key, members in groups.items():
            first = members[0][1]
            try:
                if first.mode == APPEND:
                    items = [item for _, op in members for item in op.items]
                    self._post_checked(first.win, "update", append_message(first, items))
                    self._confirm_append(first, items)
                else:
                    self._send_replace(members[-1][1])  # the latest replaces the others
                    self._unsaved[key] = members[-1][1]
            except VisdomRejected as exc:
                self._reject(first, [records[i] for i, _ in members], exc)
            for i, _ in members:
                done.setdefault(i, set()).add(key)
            self._dirty = True

    def _confirm_append(self, op: Op, items: list[Any]) -> None:
        key = op.key
        if key not in self._belief:
            self._belief[key] = count_for(self._baseline.get(op.win, {}), op)
        self._belief[key] += len(items)
        self._journal.setdefault(key, []).extend(items)
        self._journal_ops[key] = op
        self._journal_size += len(items)

    def _send_replace(self, op: Op) -> None:
        if op.mode == WINDOW:
            self._post_checked(op.win, "events", op.message)
        elif op.mode == TRACE:
            update, create = trace_messages(op)
            answer = self._http.post("update", dict(update, eid=self.env))
            if answer == "win does not exist":
                self._post_checked(op.win, "events", create)
            elif answer != op.win:
                raise VisdomRejected(answer[:200])

    def _post_checked(self, win: str, endpoint: str, message: dict[str, Any]) -> None:
        message = dict(message, eid=self.env)
        answer = self._http.post(endpoint, message)
        if answer != win:
            raise VisdomRejected(answer[:200] or "empty answer")

    def _reject(self, op: Op, records: list[Record], exc: Exception) -> None:
        """The server refused one window's update: keep the records aside, say so once."""
        path = os.path.join(self.logdir, REJECTED_FILE)
        os.makedirs(self.logdir, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.writelines(to_json(r) + "\n" for r in records)
        if op.win not in self._warned_rejected:
            self._warned_rejected.add(op.win)
            warnings.warn(
                f"vizlog: the Visdom server refused an update of window {op.win!r} ({exc}); "
                f"the records are kept in {path}",
                VisdomUnavailableWarning,
                stacklevel=2,
            )

    # ------------------------------------------------------------------ persistence

    def _maybe_save(self, force: bool = False) -> None:
        if not self._connected or not self._dirty:
            return
        due = time.monotonic() - self._last_save >= self.save_interval
        if not (force or due or self._journal_size > JOURNAL_LIMIT):
            return
        try:
            self._http.post("save", {"data": [self.env], "eid": self.env})
        except VisdomUnavailable as exc:
            self._outage(exc)
            return
        except VisdomRejected as exc:
            _log.warning("vizlog: the Visdom server could not save env %r: %s", self.env, exc)
            return
        self._journal.clear()
        self._journal_size = 0
        self._unsaved.clear()
        self._dirty = False
        self._last_save = time.monotonic()

    def __repr__(self) -> str:
        state = "connected" if self._connected else "not connected"
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
