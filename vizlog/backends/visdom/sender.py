"""Sending records to a Visdom server and reconciling with it, keeping the ledger true.

Every append goes out as: note in the ledger what is in flight, post, then on the answer
count it as delivered.  While records are spooled the ledger is saved with the spool before
and after each request (``checkpoint``), so a process killed at any moment leaves a ledger
from which the next one finds exactly what arrived.  Directly sent records (nothing spooled)
are not checkpointed: until they are confirmed they exist only in this process anyway.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from vizlog.backends.visdom.connection import expired, within
from vizlog.backends.visdom.copies import encode
from vizlog.backends.visdom.http import VisdomHTTP, VisdomRejected
from vizlog.backends.visdom.payloads import (
    APPEND,
    TRACE,
    WINDOW,
    Op,
    append_message,
    record_items,
    record_ops,
    trace_messages,
    window_counts,
)
from vizlog.backends.visdom.spool import Spool
from vizlog.records import Record, to_json

_log = logging.getLogger(__name__)

CHUNK = 10_000  # records sent (or read back from the spool) together
CHUNK_BYTES = 64 << 20  # and at most this much spool read back at once
PAUSE_EVERY = 64  # records between two ``pause()`` calls (``Backend.pause``)
REJECTED_FILE = "visdom-rejected.jsonl"


class VisdomUnavailableWarning(UserWarning):
    """The Visdom server stopped answering, or records could not be kept where promised."""


class Sender:
    """Posts operations for one environment and keeps ``spool.ledger`` in step."""

    def __init__(
        self,
        http: VisdomHTTP,
        env: str,
        spool: Spool,
        options: dict[str, Any],
        read_timeout: float,
    ) -> None:
        self.http = http
        self.env = env
        self.spool = spool
        self.options = options
        self.read_timeout = read_timeout
        #: no request may outlast this (``time.monotonic()``; set while closing)
        self.hard_deadline: float | None = None
        #: how long requests take lately: none is begun that would end past a deadline
        self.typical = 0.0
        self._restored: set[str] = set()  # windows put back since the server last went away
        self._warned_rejected: set[str] = set()
        #: the backend's ``pause`` (set by the delivery thread once the backend exists)
        self.pause: Callable[[], None] = lambda: None

    @property
    def logdir(self) -> str:
        return self.spool.logdir

    def checkpoint(self) -> None:
        """Save the ledger with the spool, when there is a spool to save it with."""
        if self.spool.pending or self.spool.has_files:
            self.spool.commit()

    def server_lost(self) -> None:
        """The server went away: after it answers again, every unsaved window goes back."""
        self._restored.clear()

    # ------------------------------------------------------------------ reconcile

    def reconcile(self, deadline: float | None) -> bool:
        """Make the server's windows match the ledger before anything new is sent.

        Returns False when ``deadline`` came first (what was done counts; the next call
        goes on from there).  Raises VisdomUnavailable / VisdomRejected.
        """
        ledger = self.spool.ledger
        self.post("env/" + self.env, {"eid": self.env})
        answer = self.post("win_data", {"win": None, "eid": self.env})
        try:
            windows = json.loads(answer)
        except ValueError as exc:
            raise VisdomRejected(f"unreadable window data: {answer[:100]!r}") from exc
        counts = {win: window_counts(data) for win, data in windows.items()}
        head = self.spool.read(CHUNK, CHUNK_BYTES) if self.spool.pending else []
        result = ledger.reconcile(counts, [record_ops(r, self.options) for r in head])
        self.checkpoint()
        # a window this process created and the server lost is put back whole from its copy
        gone = {op.win for op, _ in result.resend} | set(result.unrecoverable)
        for win in sorted(win for win in gone if win in ledger.copies):
            if expired(deadline, self.typical):
                return False
            answer = self.post("events", ledger.copies.message(win, self.env))
            if answer != win:
                raise VisdomRejected(answer[:200] or "empty answer")
            ledger.whole_restored(win)
            result.unrecoverable.pop(win, None)
        result.resend = [(op, items) for op, items in result.resend if op.win not in ledger.copies]
        for win, lost in result.unrecoverable.items():
            warnings.warn(
                f"vizlog: the Visdom server lost {lost} points of window {win!r} that were "
                "delivered before its last save; they cannot be resent",
                VisdomUnavailableWarning,
                stacklevel=2,
            )
        for op, items in result.resend:
            if expired(deadline, self.typical):
                return False
            try:
                self.post_checked(op.win, "update", append_message(op, items))
            except VisdomRejected as exc:
                _log.warning("vizlog: Visdom refused to restore window %r: %s", op.win, exc)
        for key, op in list(ledger.unsaved.items()):  # harmless to repeat; lost if restarted
            if key in self._restored:
                continue
            if expired(deadline, self.typical):
                return False
            try:
                self.send_replace(op)
            except VisdomRejected as exc:
                del ledger.unsaved[key]
                _log.warning("vizlog: Visdom refused to restore window %r: %s", op.win, exc)
            self._restored.add(key)
        self._restored.clear()
        return True

    # ------------------------------------------------------------------ delivery

    def deliver(
        self,
        records: Sequence[Record],
        done: dict[int, set[str]],
        deadline: float | None,
        checkpoint: bool,
    ) -> bool:
        """Send every operation of ``records`` not in ``done``, grouped by trace; ``done``
        grows as answers arrive, so that after a failure it says exactly what is left.

        Returns False when ``deadline`` passed before all was sent (no request is begun
        after it).  Raises VisdomUnavailable when the server stops answering.
        """
        ledger = self.spool.ledger
        groups: dict[str, list[tuple[int, Op, tuple[Any, ...]]]] = {}
        pause = self.pause
        for i, record in enumerate(records):
            if i % PAUSE_EVERY == PAUSE_EVERY - 1:
                pause()
            finished = done.get(i, ())
            for op, its in record_items(record, self.options):
                if (key := op.key) not in finished:
                    if (members := groups.get(key)) is None:
                        groups[key] = [(i, op, its)]
                    else:
                        members.append((i, op, its))
        # a window sent whole goes once, with the groups of all its traces
        whole: dict[str, list[list[tuple[int, Op, tuple[Any, ...]]]]] = {}
        for members in groups.values():
            first = members[0][1]
            if first.mode == APPEND and ledger.sends_whole(first):
                whole.setdefault(first.win, []).append(members)
        for key, members in groups.items():
            first = members[0][1]
            if first.win in whole and key != whole[first.win][0][0][1].key:
                continue  # sent with the window's first trace
            pause()  # between two windows' requests, each a few ms of work for large ones
            if first.win in whole:
                if expired(deadline, self.typical):
                    return False
                self._send_whole(first.win, whole[first.win], records, done, checkpoint)
                continue
            if expired(deadline, self.typical):
                return False
            try:
                if first.mode == APPEND:
                    items = [item for _, _, some in members for item in some]
                    ledger.sending(first, len(items))
                    if checkpoint:
                        self.spool.commit()
                    self.post_checked(first.win, "update", append_message(first, items))
                    ledger.confirmed_append(first, items)
                else:
                    self.send_replace(members[-1][1])  # the latest replaces the rest
                    ledger.confirmed_replace(members[-1][1])
            except VisdomRejected as exc:
                ledger.refused(first)
                self.reject(first, [records[i] for i, _, _ in members], exc)
            _mark_done(done, members, key)
            if checkpoint:
                self.spool.commit()
        return True

    def _send_whole(self, win: str, traces: list[list[tuple[int, Op, tuple[Any, ...]]]],
                    records: Sequence[Record], done: dict[int, set[str]],
                    checkpoint: bool) -> None:
        """New points of a window this process created: the window replaced by its copy
        plus them (``copies.py``), counted per trace as appends are."""
        ledger = self.spool.ledger
        pending = []
        for members in traces:
            first = members[0][1]
            items = [item for _, _, some in members for item in some]
            pending.append((first, items, encode(first, items)))
            ledger.sending(first, len(items))
        if checkpoint:
            self.spool.commit()
        try:
            body = ledger.copies.message(win, self.env, [(op, enc) for op, _, enc in pending])
            answer = self.post("events", body)
            if answer != win:
                raise VisdomRejected(answer[:200] or "empty answer")
            for op, items, enc in pending:
                ledger.confirmed_append(op, items, enc)
        except VisdomRejected as exc:
            for op, _, _ in pending:
                ledger.refused(op)
            self.reject(pending[0][0],
                        [records[i] for members in traces for i, _, _ in members], exc)
        for members in traces:
            _mark_done(done, members, members[0][1].key)
        if checkpoint:
            self.spool.commit()

    def send_replace(self, op: Op) -> None:
        if op.mode == WINDOW:
            self.post_checked(op.win, "events", op.message)
        elif op.mode == TRACE:
            update, create = trace_messages(op)
            answer = self.post("update", dict(update, eid=self.env))
            if answer == "win does not exist":
                self.post_checked(op.win, "events", create)
            elif answer != op.win:
                raise VisdomRejected(answer[:200])

    def post_checked(self, win: str, endpoint: str, message: dict[str, Any]) -> None:
        answer = self.post(endpoint, dict(message, eid=self.env))
        if answer != win:
            raise VisdomRejected(answer[:200] or "empty answer")

    def save(self) -> None:
        """Ask the server to write the environment to its disk."""
        self.post("save", {"data": [self.env], "eid": self.env})

    def post(self, endpoint: str, message: dict[str, Any] | str) -> str:
        """One request, timed.  Its timeout is the read timeout, cut short only by a hard
        deadline (closing): other deadlines only stop new requests from being begun, so
        that a slow server is not taken for a dead one."""
        started = time.monotonic()
        try:
            return self.http.post(
                endpoint, message, timeout=within(self.read_timeout, self.hard_deadline)
            )
        finally:
            took = time.monotonic() - started  # up at once, down slowly: err on the safe side
            self.typical = max(took, 0.8 * self.typical + 0.2 * took)

    def reject(self, op: Op, records: list[Record], exc: Exception) -> None:
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


def _mark_done(done: dict[int, set[str]], members: list[tuple[int, Op, tuple[Any, ...]]],
               key: str) -> None:
    """The records of ``members`` have had their ``key`` delivered (one set per record, made
    only for its first key: this runs for every point sent)."""
    for i, _, _ in members:
        finished = done.get(i)
        if finished is None:
            done[i] = {key}
        else:
            finished.add(key)


__all__ = ["CHUNK", "CHUNK_BYTES", "REJECTED_FILE", "Sender", "VisdomUnavailableWarning"]
