"""The ledger: what a Visdom server confirmed, per trace, so that any process can reconcile.

Appending a point twice duplicates it on the server, and a restarted server forgets what it
received after its last save.  To send every point exactly once, the sender must know, for
each trace (``Op.key``):

- ``counts``: how many items the server holds, as far as its answers tell;
- ``inflight``: how many items went out in a request whose answer never came (they may or
  may not have arrived; they are always the first undelivered items of that trace among the
  first spooled records);
- ``journal``: the items delivered since the environment was last saved (a restarted server
  lost them), and ``unsaved``: the latest replacement of each whole window or trace since then;
- ``done``: for the first spooled records, which of their operations were delivered.

Comparing these with the server's own window summaries (``reconcile``) says what to send
again and which spooled points are already there.  The ledger does no I/O: the spool saves
it (``to_state`` and the journal lines) together with its own position, in one atomic
step, so a later process -- ``vizlog replay``, or a run resumed on the same logdir --
reconciles exactly as the live backend would.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from typing import Any

from vizlog.backends.visdom.copies import WindowCopies
from vizlog.backends.visdom.payloads import APPEND, Op, count_for

#: points kept for re-sending; more forces a save of the environment
JOURNAL_LIMIT = 200_000


def op_to_json(op: Op, with_items: bool = True) -> dict[str, Any]:
    """An operation as plain JSON data (``with_items=False``: its template only)."""
    data = {f.name: getattr(op, f.name) for f in dataclasses.fields(op)}
    if not with_items:
        data["items"] = ()
    return data


def op_from_json(data: dict[str, Any]) -> Op:
    names = {f.name for f in dataclasses.fields(Op)}
    fields = {k: v for k, v in data.items() if k in names}
    fields["names"] = tuple(fields.get("names", ()))
    fields["items"] = tuple(fields.get("items", ()))
    return Op(**fields)


@dataclasses.dataclass
class Reconciliation:
    """What ``Ledger.reconcile`` found: what to send again, and what was already there."""

    #: points the server lost (restarted from an older save), to append again, in order
    resend: list[tuple[Op, list[Any]]] = dataclasses.field(default_factory=list)
    #: window -> points lost for good (delivered before a save that the server lost too)
    unrecoverable: dict[str, int] = dataclasses.field(default_factory=dict)
    #: spooled points found on the server already (their request's answer was lost)
    claimed: int = 0


class Ledger:
    """What the server confirmed; see the module docstring.  Pure: no files, no network."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.ops: dict[str, Op] = {}  # one template per counted trace
        self.inflight: dict[str, int] = {}
        self.journal: dict[str, list[Any]] = {}
        self.unsaved: dict[str, Op] = {}
        self.done: dict[int, set[str]] = {}
        #: window summaries read at the last reconcile: a trace first sent after it starts
        #: from what the server held then
        self.baseline: dict[str, dict[str, int]] = {}
        self.journal_size = 0
        #: something arrived since the environment was last saved
        self.dirty = False
        # what the journal file already holds (see ``journal_delta``)
        self._written: dict[str, int] = {}
        self._written_unsaved: dict[str, Op] = {}
        #: the journal file must start afresh (the environment was saved)
        self.journal_reset = False
        #: whole copies of the line windows this process created (``copies.py``); kept in
        #: memory only: another process appends to them
        self.copies = WindowCopies()

    # ------------------------------------------------------------------ what the sender reports

    def sending(self, op: Op, count: int) -> None:
        """``count`` items of ``op``'s trace are about to be appended."""
        key = op.key
        if key not in self.counts:
            self.counts[key] = count_for(self.baseline.get(op.win, {}), op)
        self.ops[key] = dataclasses.replace(op, items=())
        self.inflight[key] = count

    def sends_whole(self, op: Op) -> bool:
        """Whether ``op``'s window is sent whole: a line window that was not on the server
        at the last reconcile and that nothing was appended to, or one already copied."""
        win = op.win
        if self.copies.decided(win):
            return win in self.copies
        if (op.mode != APPEND or op.template.get("type") == "text" or win in self.baseline
                or any(known.win == win for known in self.ops.values())):
            self.copies.append_to(win)
            return False
        self.copies.adopt(win, op.template)
        return True

    def whole_restored(self, win: str) -> None:
        """``win`` was sent whole from its copy: the server holds exactly the copy."""
        for key, op in self.ops.items():
            if op.win == win:
                self.counts[key] = min(self.copies.count(win, name) for name in op.names)
                self.inflight.pop(key, None)

    def confirmed_append(self, op: Op, items: Sequence[Any],
                         encoded: tuple[str, list[str]] | None = None) -> None:
        key = op.key
        if key not in self.counts:
            self.counts[key] = count_for(self.baseline.get(op.win, {}), op)
            self.ops[key] = dataclasses.replace(op, items=())
        self.counts[key] += len(items)
        self.inflight.pop(key, None)
        self.copies.add(op, items, encoded)
        self.journal.setdefault(key, []).extend(items)
        self.journal_size += len(items)
        self.dirty = True

    def confirmed_replace(self, op: Op) -> None:
        self.unsaved[op.key] = op
        self.dirty = True

    def refused(self, op: Op) -> None:
        """The server answered with an error: nothing of that request arrived."""
        self.inflight.pop(op.key, None)

    def saved(self) -> None:
        """The server saved the environment: nothing delivered so far can be lost any more."""
        self.journal.clear()
        self.unsaved.clear()
        self.journal_size = 0
        self.dirty = False
        self._written.clear()
        self._written_unsaved.clear()
        self.journal_reset = True

    def consume(self, count: int) -> None:
        """The first ``count`` spooled records are delivered and leave the spool."""
        self.done = {k - count: v for k, v in self.done.items() if k >= count and v}

    @property
    def unsaved_points(self) -> int:
        """Items (and whole windows) delivered that the server has not saved yet."""
        return self.journal_size + len(self.unsaved)

    # ------------------------------------------------------------------ reconciling

    def reconcile(
        self, windows: dict[str, dict[str, int]], head: Sequence[Sequence[Op]]
    ) -> Reconciliation:
        """Compare with the server's window summaries (``payloads.window_counts`` per
        window); ``head`` is the operations of the first spooled records.

        A trace holding fewer items than confirmed lost its newest ones: they are to be sent
        again from the journal.  A trace holding more got (some of) the items in flight:
        those are marked delivered in ``done``.  More than that was written by someone else:
        the server's count is taken as it is.
        """
        self.baseline = windows
        result = Reconciliation()
        claims: dict[str, int] = {}
        for key in list(self.counts):
            op = self.ops[key]
            held = count_for(windows.get(op.win, {}), op)
            believed = self.counts[key]
            maybe = self.inflight.pop(key, 0)
            if held < believed:
                items = self.journal.get(key, [])
                missing = believed - held
                if missing > len(items):
                    lost = missing - len(items)
                    result.unrecoverable[op.win] = result.unrecoverable.get(op.win, 0) + lost
                    self.counts[key] = held + len(items)
                    missing = len(items)
                if missing:
                    result.resend.append((op, list(items[len(items) - missing :])))
            elif held > believed:
                claims[key] = min(held - believed, maybe)
                self.counts[key] = held - claims[key]
        for i, ops in enumerate(head):
            if not any(claims.values()):
                break
            finished = self.done.setdefault(i, set())
            for op in ops:
                left = claims.get(op.key, 0)
                if op.mode == APPEND and left >= len(op.items) > 0 and op.key not in finished:
                    finished.add(op.key)
                    claims[op.key] = left - len(op.items)
                    self.confirmed_append(op, list(op.items))
                    result.claimed += len(op.items)
        for key, left in claims.items():  # in flight, yet not among the spooled records
            self.counts[key] += left
        self.done = {k: v for k, v in self.done.items() if v}
        return result

    # ------------------------------------------------------------------ persistence

    def to_state(self, head: int | None = None) -> dict[str, Any]:
        """The small part, saved whole each time (the journal goes in its own lines);
        ``head``: how many of the first spooled records are on disk (marks past them are
        left out: records kept only in memory do not outlive the process)."""
        done: dict[str, list[list[int]]] = {}
        for i in sorted(self.done):
            if head is not None and i >= head:
                break
            for key in self.done[i]:
                ranges = done.setdefault(key, [])
                if ranges and ranges[-1][1] == i:
                    ranges[-1][1] = i + 1
                else:
                    ranges.append([i, i + 1])
        return {
            "counts": dict(self.counts),
            "ops": {key: op_to_json(op, with_items=False) for key, op in self.ops.items()},
            "inflight": {k: v for k, v in self.inflight.items() if v},
            "done": done,
            "dirty": self.dirty,
        }

    def journal_delta(self) -> tuple[list[str], Any]:
        """Journal lines not yet handed to ``journal_written``, and a token for it."""
        lines = []
        marks = {}
        for key, items in self.journal.items():
            start = self._written.get(key, 0)
            if len(items) > start:
                lines.append(json.dumps({"k": key, "i": items[start:]}, allow_nan=True))
                marks[key] = len(items)
        replaced = {}
        for key, op in self.unsaved.items():
            if self._written_unsaved.get(key) is not op:
                lines.append(json.dumps({"k": key, "op": op_to_json(op)}, allow_nan=True))
                replaced[key] = op
        return lines, (marks, replaced)

    def journal_written(self, token: Any) -> None:
        marks, replaced = token
        self._written.update(marks)
        self._written_unsaved.update(replaced)
        self.journal_reset = False

    def journal_rewrite(self) -> None:
        """The journal file is gone: the next ``journal_delta`` gives the whole journal."""
        self._written.clear()
        self._written_unsaved.clear()
        self.journal_reset = True

    @classmethod
    def from_state(cls, state: dict[str, Any], journal_lines: Iterable[str] = ()) -> Ledger:
        """A ledger as ``to_state`` and the journal lines left it (also reads the first
        version's ``done``: ``{"<index>": [keys]}``)."""
        ledger = cls()
        ledger.counts = {str(k): int(v) for k, v in state.get("counts", {}).items()}
        ledger.ops = {str(k): op_from_json(v) for k, v in state.get("ops", {}).items()}
        ledger.counts = {k: v for k, v in ledger.counts.items() if k in ledger.ops}
        ledger.inflight = {
            str(k): int(v) for k, v in state.get("inflight", {}).items() if k in ledger.counts
        }
        ledger.dirty = bool(state.get("dirty", False))
        for key, value in state.get("done", {}).items():
            if isinstance(value, list) and value and isinstance(value[0], list):
                for start, end in value:
                    for i in range(int(start), int(end)):
                        ledger.done.setdefault(i, set()).add(str(key))
            else:  # first version: index -> keys
                ledger.done[int(key)] = {str(v) for v in value}
        for line in journal_lines:
            entry = json.loads(line)
            key = str(entry["k"])
            if "op" in entry:
                ledger.unsaved[key] = op_from_json(entry["op"])
                ledger._written_unsaved[key] = ledger.unsaved[key]
            else:
                items = [tuple(i) if isinstance(i, list) else i for i in entry["i"]]
                ledger.journal.setdefault(key, []).extend(items)
                ledger.journal_size += len(items)
                ledger._written[key] = len(ledger.journal[key])
        return ledger


__all__ = ["JOURNAL_LIMIT", "Ledger", "Reconciliation", "op_from_json", "op_to_json"]
