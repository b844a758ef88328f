"""The file work under the spool: names, the lock that makes one spool one process's, and
writes that leave whole lines or nothing.

The lock is an exclusive ``flock`` on ``<name>.lock``, held for the owner's lifetime and
dropped by the kernel when the process dies however it dies, so a spool left by a killed run
is free for ``vizlog replay`` or a resumed run, while one in use is never touched by another.
``flock`` locks belong to an open file, not to a process: two backends in one process
exclude each other too.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from vizlog.records import Record, from_json

try:
    import fcntl
except ImportError:  # no flock (Windows): spools are not shared between live processes there
    fcntl = None  # type: ignore[assignment]

VISDOM_SPOOL = "visdom-spool"
#: spools one logdir may hold at once (one per live backend, plus leftovers)
MAX_SPOOLS = 100
_NAME = re.compile(r"^(visdom-spool(?:-\d+)?)\.(?:jsonl|state\.json)$")


class SpoolBusy(RuntimeError):
    """The spool belongs to a live process (its lock is held)."""


def spool_name(index: int) -> str:
    return VISDOM_SPOOL if index == 1 else f"{VISDOM_SPOOL}-{index}"


def spool_names(logdir: str) -> list[str]:
    """The spools present in ``logdir`` (records or state on disk), in creation order."""
    try:
        entries = os.listdir(logdir)
    except OSError:
        return []
    found = {m.group(1) for m in map(_NAME.match, entries) if m}
    return sorted(found, key=lambda n: (len(n), n))


def lock(logdir: str, name: str) -> int | None:
    """Take ``<name>.lock``: its descriptor, or None when a live process holds it.

    Raises OSError when the lock file cannot be made (directory missing or not writable).
    """
    path = os.path.join(logdir, name + ".lock")
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is None:
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:  # its holder may have removed the file between our open and our lock
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            return fd
        os.close(fd)


def unlock(logdir: str, name: str, fd: int) -> None:
    """Remove the lock file, then let go of the lock (see ``lock`` for the race)."""
    try:
        if os.stat(os.path.join(logdir, name + ".lock")).st_ino == os.fstat(fd).st_ino:
            os.remove(os.path.join(logdir, name + ".lock"))
    except OSError:
        pass
    os.close(fd)


def read_meta(logdir: str, name: str) -> tuple[dict[str, Any], bool]:
    """A spool's destination, and whether it holds anything (records or a journal)."""
    base = os.path.join(logdir, name)
    try:
        with open(base + ".state.json", encoding="utf-8") as f:
            state = json.load(f)
        meta = dict(state.get("meta", {}))
    except (OSError, ValueError, TypeError, AttributeError):
        meta, state = {}, {}
    try:
        records = os.path.getsize(base + ".jsonl") > int(state.get("offset", 0))
    except (OSError, ValueError, TypeError):
        records = False
    return meta, records or bool(state.get("journal"))


def claim(logdir: str, meta: dict[str, Any], empty_only: bool = False) -> tuple[str, int]:
    """The first spool name no live process holds whose content (if any) is for ``meta``'s
    destination (``empty_only``: that holds nothing), with its lock held.  Raises OSError
    when the logdir cannot be written."""
    os.makedirs(logdir, exist_ok=True)
    for index in range(1, MAX_SPOOLS + 1):
        name = spool_name(index)
        fd = lock(logdir, name)
        if fd is None:
            continue
        theirs, holds = read_meta(logdir, name)
        if not holds or (theirs == meta and not empty_only):
            return name, fd
        unlock(logdir, name, fd)  # another destination's leftovers: for ``vizlog replay``
    raise OSError(f"more than {MAX_SPOOLS} Visdom spools in {logdir}")


def read_lines(
    f: IO[bytes], limit: int, max_bytes: int | None
) -> tuple[list[Record], list[tuple[int, int]], tuple[int, int], bool]:
    """Records from ``f``'s position on: up to ``limit`` (and about ``max_bytes``).

    Returns the records; for each, the bytes and lines it stands for (itself, and the
    unreadable lines after it); the bytes and lines of unreadable lines before the first
    record; and whether the end of the file was reached.
    """
    out: list[Record] = []
    sizes: list[tuple[int, int]] = []
    head = (0, 0)
    total = 0
    while len(out) < limit and (max_bytes is None or total < max_bytes):
        line = f.readline()
        if not line.endswith(b"\n"):
            return out, sizes, head, True
        total += len(line)
        try:
            record = from_json(line.decode("utf-8"))
        except (ValueError, KeyError, TypeError):
            if sizes:
                sizes[-1] = (sizes[-1][0] + len(line), sizes[-1][1] + 1)
            else:
                head = (head[0] + len(line), head[1] + 1)
            continue
        out.append(record)
        sizes.append((len(line), 1))
    return out, sizes, head, False


def drop_torn_tail(path: str) -> int:
    """A crash while appending can leave half a line: cut it (it was never acknowledged).
    Returns how many bytes were cut."""
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        end = size
        while end > 0:
            start = max(0, end - 65536)
            f.seek(start)
            block = f.read(end - start)
            newline = block.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        else:
            keep = 0
        if keep != size:
            f.truncate(keep)
        return size - keep


def replace_atomically(path: str, data: bytes) -> None:
    """Write ``path`` whole or leave it as it was (a temporary file, then a rename)."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        remove(tmp)
        raise


def write_lines(fd: int, size: int, data: bytes) -> tuple[int, OSError | None]:
    """Append ``data`` (whole lines) to the file open as ``fd``, ``size`` bytes long.

    When the disk refuses part of it, the file is cut back to the last whole line written:
    never a torn line mid-file.  Returns the bytes kept, and the error (None: all written).
    """
    written, error = 0, None
    try:
        os.ftruncate(fd, size)  # a write cut short before, and not cut back then
        view = memoryview(data)
        while written < len(data):
            written += os.write(fd, view[written:])
    except OSError as exc:
        error = exc
    if error is None:
        return written, None
    kept = data.rfind(b"\n", 0, written) + 1
    try:
        os.ftruncate(fd, size + kept)
    except OSError:
        pass  # cut back first thing before the next write
    return kept, error


@contextmanager
def reader(fd: int | None, path: str) -> Iterator[IO[bytes] | None]:
    """The record file for reading: through ``fd`` when open (it may have been deleted
    meanwhile), else by ``path`` (None when there is no file)."""
    if fd is not None:
        f: IO[bytes] = os.fdopen(os.dup(fd), "rb")
    elif os.path.exists(path):
        f = open(path, "rb")  # noqa: SIM115 - closed below
    else:
        yield None
        return
    with f:
        yield f


def append_whole(path: str, data: bytes, size: int) -> None:
    """Append ``data`` to ``path`` (expected to be ``size`` bytes long), or cut it back."""
    with open(path, "rb+") as f:
        f.truncate(size)
        f.seek(size)
        try:
            f.write(data)
            f.flush()
        except OSError:
            f.truncate(size)
            raise


def remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def unlinked(fd: int, path: str) -> bool:
    """Whether the file open as ``fd`` is no longer the one at ``path`` (deleted, moved)."""
    st = os.fstat(fd)
    if st.st_nlink == 0:
        return True
    try:
        return os.stat(path).st_ino != st.st_ino
    except OSError:
        return True


def copy_range(src: int, dst: int, start: int, end: int) -> None:
    """Copy bytes ``start:end`` of open file ``src`` to the end of ``dst``."""
    position = start
    while position < end:
        chunk = os.pread(src, min(1 << 20, end - position), position)
        if not chunk:
            break
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view) :]
        position += len(chunk)


__all__ = [
    "MAX_SPOOLS",
    "SpoolBusy",
    "VISDOM_SPOOL",
    "claim",
    "lock",
    "spool_name",
    "spool_names",
    "unlock",
]
