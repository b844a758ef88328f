"""A spool's state on disk: its position, its destination, and the ledger with its journal.

The state (``<name>.state.json``) is small and replaced whole, atomically.  The ledger's
journal (points delivered since the environment was last saved) can grow to
``ledger.JOURNAL_LIMIT`` points, so it is not rewritten with every state save: new lines are
appended to ``<name>.journal.jsonl``, and the state says which journal file it means (an id,
also on the file's first line) and how many of its bytes count.  Bytes past that were written
by a save that did not finish, and are ignored; a journal whose id is not the state's belongs
to another moment, and is ignored too.
"""

from __future__ import annotations

import json
import os
from typing import Any

from vizlog.backends.visdom import spoolfiles
from vizlog.backends.visdom.ledger import Ledger


class JournalFile:
    """One spool's ``<name>.journal.jsonl``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.id: str | None = None
        self.bytes = 0

    def load(self, described: Any) -> list[str]:
        """The journal lines the state (``described``: what ``save`` returned) counts."""
        self.id, self.bytes = None, 0
        if not isinstance(described, dict) or not described.get("id"):
            return []
        wanted, size = str(described["id"]), int(described.get("bytes", 0))
        try:
            with open(self.path, "rb") as f:
                data = f.read(size)
        except FileNotFoundError:
            return []
        header, _, body = data.partition(b"\n")
        try:
            found = json.loads(header or b"{}").get("id")
        except ValueError:
            found = None
        if len(data) < size or found != wanted:
            return []  # not the journal the state means
        self.id, self.bytes = wanted, size
        return [line.decode("utf-8") for line in body.splitlines() if line]

    def save(self, ledger: Ledger) -> dict[str, Any] | None:
        """Write what the file lacks of ``ledger``'s journal; what the state should say."""
        try:
            current = os.path.getsize(self.path)
        except FileNotFoundError:
            current = -1
        if ledger.journal_reset or self.id is None or current != self.bytes:
            ledger.journal_rewrite()
            lines, token = ledger.journal_delta()
            if not lines:
                self.remove()
            else:
                journal_id = os.urandom(8).hex()
                data = "\n".join([json.dumps({"id": journal_id}), *lines, ""]).encode("utf-8")
                spoolfiles.replace_atomically(self.path, data)
                self.id, self.bytes = journal_id, len(data)
        else:
            lines, token = ledger.journal_delta()
            if lines:
                data = "".join(line + "\n" for line in lines).encode("utf-8")
                spoolfiles.append_whole(self.path, data, self.bytes)
                self.bytes += len(data)
        ledger.journal_written(token)
        return None if self.id is None else {"id": self.id, "bytes": self.bytes}

    def remove(self) -> None:
        spoolfiles.remove(self.path)
        self.id, self.bytes = None, 0


def load_state(path: str, journal: JournalFile) -> tuple[int, dict[str, Any], Ledger]:
    """The offset of the first pending record, the destination, and the ledger saved in
    ``path`` (zero, nothing and an empty ledger where it is missing or unreadable)."""
    state: dict[str, Any] = {}
    offset, meta = 0, {}
    try:
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
        offset, meta = int(state.get("offset", 0)), dict(state.get("meta", {}))
    except FileNotFoundError:
        pass
    except (OSError, ValueError, TypeError, AttributeError):
        offset, meta, state = 0, {}, {}
    ledger_state = state.get("ledger", {"done": state.get("done", {})})  # or the 1st version
    try:
        return offset, meta, Ledger.from_state(ledger_state, journal.load(state.get("journal")))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass
    try:  # an unreadable journal: the points it held cannot be restored
        return offset, meta, Ledger.from_state(ledger_state)
    except (ValueError, TypeError, KeyError, AttributeError):
        return offset, meta, Ledger()


def save_state(
    path: str, journal: JournalFile, offset: int, meta: dict[str, Any], ledger: Ledger,
    head: int
) -> None:
    """Save what ``load_state`` reads: the journal's new lines first, then the state that
    counts them.  ``head``: how many pending records are on disk.  Raises OSError."""
    state = {
        "version": 2,
        "offset": offset,
        "meta": meta,
        "journal": journal.save(ledger),
        "ledger": ledger.to_state(head=head),
    }
    spoolfiles.replace_atomically(path, json.dumps(state, allow_nan=True).encode("utf-8"))


__all__ = ["JournalFile", "load_state", "save_state"]
