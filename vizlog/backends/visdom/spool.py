"""Records not delivered yet, kept on disk in order, with the ledger of what was delivered.

A spool ``<name>`` is a set of files in the run's logdir:

- ``<name>.jsonl``: one record per line (``records.to_json``), only ever appended to;
- ``<name>.state.json``: the byte offset of the first pending line, the server and
  environment the records are meant for, and the ledger (``ledger.Ledger``: what the server
  confirmed, which parts of the first pending records it has); replaced atomically, so a
  crash leaves the old or the new state, never a mix;
- ``<name>.journal.jsonl``: the ledger's journal (points delivered since the environment was
  last saved), appended to; the state says how many of its bytes count;
- ``<name>.lock``: held (``flock``) by the one live process that owns the spool.

A backend takes the first spool name (``visdom-spool``, ``visdom-spool-2``, ...) that no live
process holds and that holds no records for another destination, so two backends on one
logdir never share a spool, and a run resumed with the same destination picks up what its
predecessor left.  Appends write whole lines or nothing: a failed write is cut back to the
last whole line, and the records wait in memory (up to ``MEMORY_LIMIT`` bytes) until the disk
takes them again.  If the spool file is deleted under the run, the directory and the file are
made again from the still open old file.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from vizlog.backends.visdom import spoolfiles
from vizlog.backends.visdom.ledger import Ledger
from vizlog.backends.visdom.spoolfiles import VISDOM_SPOOL, SpoolBusy
from vizlog.backends.visdom.spoolstate import JournalFile, load_state, save_state
from vizlog.records import Record, to_json

#: bytes of records kept in memory while the disk refuses them; more are dropped and counted
MEMORY_LIMIT = 64 << 20
#: a disk that refused a write is tried again at most this often
DISK_RETRY_SECONDS = 1.0
_SPILL_BYTES = 1 << 20  # records moved from memory to disk in pieces of about this size


class Spool:
    """An append-only queue of records on disk; ``read`` looks, ``consume`` removes."""

    def __init__(
        self,
        logdir: str | os.PathLike[str],
        name: str = VISDOM_SPOOL,
        *,
        lock: bool = False,
        _lock_fd: int | None = None,
        _fresh: bool = False,
    ) -> None:
        self.logdir = os.fspath(logdir)
        self._lock_fd = _lock_fd
        if lock and _lock_fd is None:
            self._lock_fd = spoolfiles.lock(self.logdir, name)
            if self._lock_fd is None:
                raise SpoolBusy(f"{os.path.join(self.logdir, name)} is in use by a live process")
        self._set_name(name)
        self.ledger = Ledger()
        self._offset = 0
        self._meta: dict[str, Any] = {}
        self._fd: int | None = None
        self._size = 0  # of the record file, all whole lines
        self._file_pending = 0
        self._sizes: list[tuple[int, int] | None] = []  # per record of the last ``read``
        self._memory: deque[tuple[Record, bytes]] = deque()
        self._memory_bytes = 0
        self._retry_at = 0.0
        self._detached = False  # the file was deleted and could not be made again
        self._want_lock = False  # a lock could not be taken yet (directory not writable)
        #: the last error the disk gave (None once writes work again)
        self.disk_error: OSError | None = None
        self.dropped = 0  # records neither on disk nor in memory (over ``MEMORY_LIMIT``)
        self.skipped = 0  # unreadable lines passed over (see ``read``)
        self.torn_bytes = 0  # bytes of a half-written last line cut off when opened
        self.recreated = 0  # times the spool file was made again after being deleted
        if not _fresh:
            self._load()

    @classmethod
    def claim(cls, logdir: str | os.PathLike[str], server: str, env: str) -> Spool:
        """The spool a live backend sending to ``server``/``env`` owns until ``close``."""
        meta = {"server": server, "env": env}
        try:
            name, fd = spoolfiles.claim(os.fspath(logdir), meta)
        except OSError as exc:  # the directory cannot be written: memory until it can
            spool = cls(logdir, _fresh=True)  # files here may be anyone's: not read
            spool.disk_error, spool._want_lock = exc, True
            spool._meta = meta
            return spool
        spool = cls(logdir, name, _lock_fd=fd)
        spool._meta = meta
        return spool

    def _set_name(self, name: str) -> None:
        self.name = name
        base = os.path.join(self.logdir, name)
        self.path = base + ".jsonl"
        self.state_path = base + ".state.json"
        self.journal_path = base + ".journal.jsonl"
        self._journal = JournalFile(self.journal_path)

    # ----------------------------------------------------------------------------- loading

    def _load(self) -> None:
        self._offset, self._meta, self.ledger = load_state(self.state_path, self._journal)
        if not os.path.exists(self.path):
            self._offset, self.ledger.done = 0, {}
            return
        self.torn_bytes = spoolfiles.drop_torn_tail(self.path)
        self._size = os.path.getsize(self.path)
        self._offset = min(self._offset, self._size)
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            self._file_pending = sum(1 for _ in f)

    # ----------------------------------------------------------------------------- state

    @property
    def pending(self) -> int:
        """Records not delivered yet: on disk, then in memory."""
        return self._file_pending + len(self._memory)

    @property
    def in_memory(self) -> int:
        """Pending records the disk has not taken (lost if the process ends)."""
        return len(self._memory)

    @property
    def meta(self) -> dict[str, Any]:
        """Where the records are meant to go (``server``, ``env``), for ``replay``."""
        return dict(self._meta)

    def set_meta(self, **meta: Any) -> None:
        if meta != self._meta:
            self._meta = dict(meta)
            if self.pending:
                self.commit()

    @property
    def done(self) -> dict[int, set[str]]:
        """For the first pending records (by position): the parts already delivered."""
        return {k: set(v) for k, v in self.ledger.done.items()}

    def set_done(self, done: dict[int, set[str]]) -> None:
        self.ledger.done = {k: set(v) for k, v in done.items() if v}
        self.commit()

    def reset_ledger(self) -> None:
        """Start the ledger afresh (the records go to another server than it describes)."""
        self.ledger = Ledger()
        self.ledger.journal_rewrite()

    @property
    def has_files(self) -> bool:
        return any(os.path.exists(p) for p in (self.path, self.state_path))

    def commit(self) -> bool:
        """Save the position, the destination and the ledger in one atomic step.

        Returns False (and keeps the error in ``disk_error``) when the disk refuses.
        """
        if self._want_lock and not self._take_lock():
            return False
        try:
            os.makedirs(self.logdir, exist_ok=True)
            save_state(
                self.state_path, self._journal, self._offset, self._meta, self.ledger,
                self._file_pending,
            )
        except OSError as exc:
            self._failed(exc)
            return False
        return True

    # ----------------------------------------------------------------------------- data

    def append(self, records: Iterable[Record]) -> int:
        """Queue records after the pending ones: on disk as far as it takes them, the rest
        in memory (up to ``MEMORY_LIMIT``, then dropped and counted).  Returns how many were
        queued."""
        encoded = [(r, (to_json(r) + "\n").encode("utf-8")) for r in records]
        if not encoded:
            return 0
        if self._memory:
            self.retry_disk()
        written = 0 if self._memory else self._write([line for _, line in encoded])
        if written and not os.path.exists(self.state_path):
            self.commit()  # the destination goes on disk with the first records
        kept = written
        for record, line in encoded[written:]:
            if self._memory_bytes + len(line) > MEMORY_LIMIT:
                self.dropped += 1
                continue
            self._memory.append((record, line))
            self._memory_bytes += len(line)
            kept += 1
        return kept

    def retry_disk(self, force: bool = False) -> bool:
        """Move records kept in memory to disk, as far as it takes them now; True when none
        are left in memory."""
        if not self._memory:
            return True
        if not force and time.monotonic() < self._retry_at:
            return False
        while self._memory:
            batch, size = [], 0
            for _, line in self._memory:
                batch.append(line)
                size += len(line)
                if size >= _SPILL_BYTES:
                    break
            written = self._write(batch)
            for _ in range(written):
                self._memory_bytes -= len(self._memory.popleft()[1])
            if written < len(batch):
                break
        self.commit()
        return not self._memory

    def _write(self, lines: list[bytes]) -> int:
        """Append as many of ``lines`` as the disk takes, whole; returns how many."""
        fd = self._writable_fd()
        if fd is None:
            return 0
        kept, error = spoolfiles.write_lines(fd, self._size, b"".join(lines))
        count = 0
        for line in lines:
            if kept < len(line):
                break
            kept -= len(line)
            self._size += len(line)
            count += 1
        self._file_pending += count
        if error is None:
            self.disk_error = None
        else:
            self._failed(error)
        return count

    def _failed(self, exc: OSError) -> None:
        self.disk_error = exc
        self._retry_at = time.monotonic() + DISK_RETRY_SECONDS

    def _take_lock(self) -> bool:
        try:
            # a spool that already holds records of its own takes no one else's files
            name, fd = spoolfiles.claim(self.logdir, self._meta, empty_only=True)
        except OSError as exc:
            self._failed(exc)
            return False
        self._release_lock()
        self._lock_fd, self._want_lock = fd, False
        self._set_name(name)
        return True

    def _writable_fd(self) -> int | None:
        if self._fd is not None and not self._detached and spoolfiles.unlinked(self._fd, self.path):
            self._detached = True
        if self._detached or self._fd is None:
            if time.monotonic() < self._retry_at:
                return None
            if self._want_lock or (self._detached and self._lock_fd is not None):
                if not self._take_lock():
                    return None
            try:
                os.makedirs(self.logdir, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            except OSError as exc:
                self._failed(exc)
                return None
            if self._detached:
                if not self._move_pending(fd):
                    return None
            else:
                self._size = os.fstat(fd).st_size
                self._fd = fd
        return self._fd

    def _move_pending(self, fd: int) -> bool:
        """The spool file was deleted under us: copy its pending lines (still readable
        through the old descriptor) into the new one."""
        old = self._fd
        try:
            os.ftruncate(fd, 0)
            if old is not None:
                spoolfiles.copy_range(old, fd, self._offset, self._size)
        except OSError as exc:
            os.close(fd)
            self._failed(exc)
            return False
        if old is not None:
            os.close(old)
        self._size -= self._offset
        self._offset = 0
        self._detached = False
        self.recreated += 1
        self.ledger.journal_rewrite()
        self._fd = fd
        self.commit()
        return True

    def read(self, limit: int, max_bytes: int | None = None) -> list[Record]:
        """Up to ``limit`` of the first pending records (and about ``max_bytes`` of them, at
        least one), left pending until ``consume``.  A line that cannot be read (torn by a
        crash of an older version) is passed over and counted in ``skipped``."""
        out: list[Record] = []
        self._sizes = []
        at_end = self._file_pending == 0
        with spoolfiles.reader(self._fd, self.path) as f:
            if f is not None and not at_end:
                f.seek(self._offset)
                out, sizes, head, at_end = spoolfiles.read_lines(f, limit, max_bytes)
                self._sizes = list(sizes)
                self.skipped += head[1]  # the others when consumed: reads repeat
                if head[1]:  # unreadable lines before any record: step over them now
                    self._offset += head[0]
                    self._file_pending -= head[1]
                    self.commit()
        if at_end:
            for record, _ in list(self._memory)[: max(0, limit - len(out))]:
                out.append(record)
                self._sizes.append(None)
        return out

    def consume(self, count: int) -> None:
        """Mark the first ``count`` records of the last ``read`` as delivered."""
        taken, self._sizes = self._sizes[:count], self._sizes[count:]
        for size in taken:
            if size is None:
                self._memory_bytes -= len(self._memory.popleft()[1])
            else:
                self._offset += size[0]
                self._file_pending -= size[1]
                self.skipped += size[1] - 1
        self.ledger.consume(len(taken))
        if self.pending == 0 and not self.ledger.unsaved_points:
            self.clear()
        else:
            self.commit()

    def clear(self) -> None:
        """Forget everything (all of it was delivered and saved): remove the files."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        for path in (self.path, self.state_path):  # records first: no state, no offset
            spoolfiles.remove(path)
        self._journal.remove()
        self._offset, self._file_pending, self._size, self._sizes = 0, 0, 0, []
        self._memory.clear()
        self._memory_bytes = 0
        self._detached = False
        self.ledger.done = {}

    def close(self) -> None:
        """Save what is left (or remove the files when nothing is), release the lock."""
        owned = self._lock_fd is not None or self._want_lock
        if owned and (self.pending or self.ledger.unsaved_points):
            self.commit()
        elif owned:
            self.clear()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            spoolfiles.unlock(self.logdir, self.name, self._lock_fd)
            self._lock_fd = None

    def __len__(self) -> int:
        return self.pending

    def __repr__(self) -> str:
        return f"<Spool {self.path} pending={self.pending}>"


def pending_records(logdir: str | os.PathLike[str], name: str | None = None) -> list[Record]:
    """Every record still waiting in the logdir's spools (or in spool ``name``), in spool
    order (for tools and tests; loads them all)."""
    out: list[Record] = []
    for each in [name] if name else spoolfiles.spool_names(os.fspath(logdir)):
        spool = Spool(logdir, each)
        try:
            out.extend(spool.read(spool.pending))
        finally:
            spool.close()
    return out


__all__ = ["MEMORY_LIMIT", "Spool", "SpoolBusy", "VISDOM_SPOOL", "pending_records"]
