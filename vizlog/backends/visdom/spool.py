"""Records that could not be delivered yet, kept on disk in order until they are.

A spool is two files in the run's logdir: ``<name>.jsonl``, one record per line
(``records.to_json``), and ``<name>.state.json``, which says how far delivery has got: the
byte offset of the first pending line, which parts of the first pending records were already
delivered (a record can show in several windows, and an outage can fall between them), and
the server and environment the records were meant for.  The state file is replaced
atomically, so a crash leaves either the old or the new state, never a mix; the record file
is only ever appended to, and removed once everything in it has been delivered.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

from vizlog.records import Record, from_json, to_json

VISDOM_SPOOL = "visdom-spool"


class Spool:
    """An append-only queue of records on disk; ``read`` looks, ``consume`` removes."""

    def __init__(self, logdir: str | os.PathLike[str], name: str = VISDOM_SPOOL) -> None:
        self.logdir = os.fspath(logdir)
        self.path = os.path.join(self.logdir, name + ".jsonl")
        self.state_path = os.path.join(self.logdir, name + ".state.json")
        self._offset = 0
        self._done: dict[int, set[str]] = {}
        self._meta: dict[str, Any] = {}
        self._sizes: list[int] = []  # byte sizes of the lines the last ``read`` returned
        self._file: Any = None
        self.pending = 0
        self._load()

    # ----------------------------------------------------------------------------- state

    def _load(self) -> None:
        if os.path.exists(self.state_path):
            try:
                with open(self.state_path, encoding="utf-8") as f:
                    state = json.load(f)
                self._offset = int(state.get("offset", 0))
                self._done = {int(k): set(v) for k, v in state.get("done", {}).items()}
                self._meta = dict(state.get("meta", {}))
            except (OSError, ValueError, TypeError):
                self._offset, self._done, self._meta = 0, {}, {}
        if not os.path.exists(self.path):
            self._offset, self._done = 0, {}
            return
        self._drop_torn_tail()
        size = os.path.getsize(self.path)
        self._offset = min(self._offset, size)
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            self.pending = sum(1 for _ in f)

    def _drop_torn_tail(self) -> None:
        """A crash while appending can leave half a line: cut it, it was never acknowledged."""
        with open(self.path, "rb+") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            if size == 0:
                return
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return
            f.seek(0)
            data = f.read()
            f.truncate(data.rfind(b"\n") + 1)

    def _save_state(self) -> None:
        os.makedirs(self.logdir, exist_ok=True)
        state = {
            "offset": self._offset,
            "done": {str(k): sorted(v) for k, v in self._done.items() if v},
            "meta": self._meta,
        }
        tmp = self.state_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f)
        os.replace(tmp, self.state_path)

    @property
    def meta(self) -> dict[str, Any]:
        """Where the records were meant to go (``server``, ``env``), for ``replay``."""
        return dict(self._meta)

    def set_meta(self, **meta: Any) -> None:
        if meta != self._meta:
            self._meta = dict(meta)
            if self.pending:
                self._save_state()

    @property
    def done(self) -> dict[int, set[str]]:
        """For the first pending records (by position): the parts already delivered."""
        return {k: set(v) for k, v in self._done.items()}

    def set_done(self, done: dict[int, set[str]]) -> None:
        self._done = {k: set(v) for k, v in done.items() if v}
        self._save_state()

    # ----------------------------------------------------------------------------- data

    def append(self, records: Iterable[Record]) -> int:
        """Write records after the pending ones; returns how many were written."""
        lines = [to_json(r) + "\n" for r in records]
        if not lines:
            return 0
        if self._file is None:
            os.makedirs(self.logdir, exist_ok=True)
            fresh = not os.path.exists(self.path)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
            if fresh:
                self._save_state()
        self._file.write("".join(lines))
        self._file.flush()
        self.pending += len(lines)
        return len(lines)

    def read(self, limit: int, max_bytes: int | None = None) -> list[Record]:
        """Up to ``limit`` of the first pending records (and about ``max_bytes`` of them, at
        least one), left pending until ``consume``."""
        self._sizes = []
        if not self.pending:
            return []
        if self._file is not None:
            self._file.flush()
        out: list[Record] = []
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            size = 0
            while len(out) < limit and (max_bytes is None or size < max_bytes):
                line = f.readline()
                if not line:
                    break
                size += len(line)
                self._sizes.append(len(line))
                out.append(from_json(line.decode("utf-8")))
        return out

    def consume(self, count: int) -> None:
        """Mark the first ``count`` records of the last ``read`` as delivered."""
        sizes = self._sizes[:count]
        self._sizes = self._sizes[count:]
        self._offset += sum(sizes)
        self.pending = max(0, self.pending - len(sizes))
        self._done = {k - count: v for k, v in self._done.items() if k >= count}
        if self.pending == 0:
            self.clear()
        else:
            self._save_state()

    def clear(self) -> None:
        """Forget everything (all of it was delivered): remove both files."""
        if self._file is not None:
            self._file.close()
            self._file = None
        for path in (self.path, self.state_path):  # records first: no state means no offset
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
        self._offset, self._done, self.pending, self._sizes = 0, {}, 0, []

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __len__(self) -> int:
        return self.pending

    def __repr__(self) -> str:
        return f"<Spool {self.path} pending={self.pending}>"


def pending_records(logdir: str | os.PathLike[str], name: str = VISDOM_SPOOL) -> list[Record]:
    """Every record still waiting in the spool (for tools and tests; loads them all)."""
    spool = Spool(logdir, name)
    try:
        return spool.read(spool.pending)
    finally:
        spool.close()


__all__ = ["Spool", "VISDOM_SPOOL", "pending_records"]
