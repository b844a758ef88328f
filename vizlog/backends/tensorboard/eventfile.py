"""TensorBoard event files, written by vizlog's sender thread itself.

The writers' ``SummaryWriter`` builds a protobuf per scalar, queues it to a thread of its own
and checksums it in pure Python: about 30 µs of interpreter time per point, taken from the
training loop's GIL.  Here a scalar event is encoded directly (the same bytes the writers'
protobufs serialise to), the checksum is native when ``google-crc32c`` is installed, and
the records are written in batches by the one thread that already does the delivery.
Summaries of the other kinds are still built by the chosen writer library.
"""

from __future__ import annotations

import itertools
import os
import socket
import struct
import time
import warnings
from collections.abc import Callable, Iterable

_DOUBLE = struct.Struct("<d")
_WALL = struct.Struct("<Bd")  # Event.wall_time: its field key (9) and the double
_FLOAT = struct.Struct("<f")
_UINT32 = struct.Struct("<I")
_UINT64 = struct.Struct("<Q")
_MASK_DELTA = 0xA282EAD8
_file_counter = itertools.count()


def _crc32c_function() -> Callable[[bytes], int]:
    try:
        import google_crc32c

        if google_crc32c.implementation == "c":
            return google_crc32c.value
    except ImportError:
        pass
    try:  # pure-Python fallbacks of whichever writer library is installed
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import crc32c
    except ImportError:
        from tensorboardX.crc32c import _crc32c as crc32c
    return crc32c


_crc32c = _crc32c_function()


def masked_crc32c(data: bytes) -> int:
    crc = _crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    """One TFRecord: length, its checksum, the data, its checksum."""
    return _frame_head(len(data)) + data + _UINT32.pack(masked_crc32c(data))


#: a TFRecord's first 12 bytes (the length and its checksum) per length: scalar events
#: come in a few lengths, so ``scalar_frames`` looks them up instead of checksumming
_frame_heads: dict[int, bytes] = {}


def _frame_head(length: int) -> bytes:
    header = _UINT64.pack(length)
    head = header + _UINT32.pack(masked_crc32c(header))
    if length < 4096:  # the lengths of small events: a bounded set
        _frame_heads[length] = head
    return head


_ONE_BYTE_VARINTS = [bytes((v,)) for v in range(0x80)]


def _varint(value: int) -> bytes:
    if 0 <= value < 0x80:  # tags, lengths, early steps: no loop
        return _ONE_BYTE_VARINTS[value]
    if value < 0:
        value += 1 << 64
    if value < 0x4000:  # the steps of most runs: two bytes
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    if value < 0x200000:
        return bytes(((value & 0x7F) | 0x80, ((value >> 7) & 0x7F) | 0x80, value >> 14))
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field_bytes(number: int, payload: bytes) -> bytes:
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


def _event_head(step: int, walltime: float) -> bytes:
    # Event.wall_time = 1 (double), Event.step = 2 (int64); proto3 leaves zeros out
    head = b"\x09" + _DOUBLE.pack(walltime) if walltime else b""
    return head + (b"\x10" + _varint(step) if step else b"")


def summary_event(summary: bytes, step: int, walltime: float) -> bytes:
    """An Event holding a serialised ``Summary`` (field 5)."""
    return _event_head(step, walltime) + _field_bytes(5, summary)


#: per tag, the bytes of a scalar event between its head and its value (the same for every
#: point of a series); a run has few tags, but the cache is bounded all the same
_scalar_middles: dict[str, bytes] = {}
_MAX_CACHED_TAGS = 10_000


def _scalar_middle(tag: str) -> bytes:
    """Event.summary(5) { Summary.value(1) { tag(1), simple_value(2) = ... } } up to the
    value's four bytes."""
    item = _field_bytes(1, tag.encode("utf-8")) + b"\x15"  # in a oneof: written even when 0
    value = b"\x0a" + _varint(len(item) + 4) + item
    return b"\x2a" + _varint(len(value) + 4) + value


def _new_scalar_middle(tag: str) -> bytes:
    """``_scalar_middle`` of a tag not in the cache yet, kept there while it has room."""
    middle = _scalar_middle(tag)
    if len(_scalar_middles) < _MAX_CACHED_TAGS:
        _scalar_middles[tag] = middle
    return middle


def _float32(value: float) -> bytes:
    try:
        return _FLOAT.pack(value)
    except OverflowError:  # beyond float32: the protobuf stores an infinity
        return _FLOAT.pack(float("inf") if value > 0 else float("-inf"))


def scalar_event(tag: str, value: float, step: int, walltime: float) -> bytes:
    """The Event ``SummaryWriter.add_scalar`` writes: Summary.Value(tag, simple_value)."""
    middle = _scalar_middles.get(tag) or _new_scalar_middle(tag)
    return _event_head(step, walltime) + middle + _float32(value)


def scalar_frames(points: Iterable[tuple[str, float, int, float]]) -> bytes:
    """The framed events of many ``(tag, value, step, walltime)`` points at once: what
    ``frame(scalar_event(...))`` gives for each, in one loop without a call per field,
    since scalars are most of what a run writes (the points of one step share its bytes)."""
    out = bytearray()
    middles = _scalar_middles
    heads = _frame_heads
    last_step: int | None = None
    step_bytes = b""
    for tag, value, step, walltime in points:
        if step != last_step:
            last_step = step
            step_bytes = b"\x10" + _varint(step) if step else b""
        try:  # inline: the common case costs no call
            packed = _FLOAT.pack(value)
        except OverflowError:
            packed = _float32(value)
        event = ((_WALL.pack(9, walltime) if walltime else b"") + step_bytes
                 + (middles.get(tag) or _new_scalar_middle(tag)) + packed)
        crc = _crc32c(event)
        out += heads.get(len(event)) or _frame_head(len(event))
        out += event
        out += _UINT32.pack((((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF)
    return bytes(out)


def graph_event(graph_def: bytes, step: int, walltime: float) -> bytes:
    return _event_head(step, walltime) + _field_bytes(4, graph_def)


#: bytes kept in memory while the disk refuses them; beyond this, new events are dropped
#: (and counted) rather than growing without bound
MAX_UNWRITTEN_BYTES = 512 << 20
#: while the disk refuses writes, the warning is repeated this often, with the counts
REPEAT_WARNING_SECONDS = 30.0


def purge_events(step: int, walltime: float) -> list[bytes]:
    """What the writers write for ``purge_step``: a file version and a ``SessionLog.START``
    at that step, which makes TensorBoard drop every event of the run at that step or
    later that came before (the steps a resumed run logs again)."""
    head = b"\x09" + _DOUBLE.pack(walltime) + b"\x10" + _varint(step)
    return [head + _field_bytes(3, b"brain.Event:2"), head + _field_bytes(7, b"\x08\x01")]


class EventFile:
    """One ``events.out.tfevents.*`` file; events are buffered until ``flush``.

    The file is whole at every moment: a flush writes complete records or, when the disk
    refuses part of them (full, quota), cuts the file back to its last complete record and
    keeps the events to write again at the next flush, so TensorBoard's reader never meets a
    torn record and sees everything once space returns.  A file deleted under a running
    run (its directory removed) is noticed at the next flush and a new one is started.
    """

    def __init__(self, logdir: str, filename_suffix: str = "",
                 purge_step: int | None = None) -> None:
        self.logdir = logdir
        self._suffix = filename_suffix
        self._purge_step = purge_step  # written once, into the first file
        self._fd = -1
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self.dropped = 0  # events refused because too much was waiting for the disk
        self._failing_since: float | None = None
        self._warned_at = 0.0
        self._open_new()

    def _open_new(self) -> None:
        os.makedirs(self.logdir, exist_ok=True)
        name = (f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
                f"{os.getpid()}.{next(_file_counter):06d}{self._suffix}")
        self.path = os.path.join(self.logdir, name)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = 0  # bytes of complete records in the file
        # Event(wall_time=now, file_version="brain.Event:2") opens every event file
        now = time.time()
        header = frame(b"\x09" + _DOUBLE.pack(now) + _field_bytes(3, b"brain.Event:2"))
        if self._purge_step is not None:
            header += b"".join(frame(e) for e in purge_events(self._purge_step, now))
            self._purge_step = None
        self._pending.insert(0, header)
        self._pending_bytes += len(header)
        self.flush()

    def write(self, event: bytes) -> None:
        if self._pending_bytes >= MAX_UNWRITTEN_BYTES:
            self.dropped += 1
            return
        data = frame(event)
        self._pending.append(data)
        self._pending_bytes += len(data)

    @property
    def unwritten_bytes(self) -> int:
        return self._pending_bytes

    def write_framed(self, frames: bytes, count: int) -> None:
        """``count`` events already framed (``scalar_frames``)."""
        if self._pending_bytes >= MAX_UNWRITTEN_BYTES:
            self.dropped += count
            return
        self._pending.append(frames)
        self._pending_bytes += len(frames)

    def flush(self) -> bool:
        """Write what is buffered; True when it is all in the file.  When the disk refuses
        it, the file is left whole, the events are kept for the next flush, and a warning
        (repeated with the counts while it lasts) says so."""
        if self._fd < 0:
            return not self._pending
        try:
            if self._deleted():
                self._restart()
            else:
                self._write_pending()
        except OSError as exc:
            self._failing(exc)
            return False
        if self._failing_since is not None:
            self._recovered()
        return True

    def _write_pending(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending = [data]
        view = memoryview(data)
        written = 0
        try:
            while written < len(data):
                written += os.write(self._fd, view[written:])
        except OSError:
            if written:
                os.ftruncate(self._fd, self._size)  # back to the last complete record
            raise
        self._size += len(data)
        self._pending.clear()
        self._pending_bytes = 0

    def _deleted(self) -> bool:
        try:
            return os.fstat(self._fd).st_nlink == 0
        except OSError:
            return True

    def _restart(self) -> None:
        """The file was deleted: start a new one, holding what was not yet written."""
        gone = self.path
        os.close(self._fd)
        self._fd = -1
        self._open_new()
        warnings.warn(
            f"vizlog: the event file {gone} was deleted while the run was writing it (was its "
            f"directory removed?); logging goes on in {self.path}; what had been written to "
            "the deleted file is gone",
            RuntimeWarning,
            stacklevel=1,
        )

    def _failing(self, exc: OSError) -> None:
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        elif now - self._warned_at < REPEAT_WARNING_SECONDS:
            return
        self._warned_at = now
        dropped = f"; {self.dropped} events dropped for lack of memory" if self.dropped else ""
        warnings.warn(
            f"vizlog: cannot write {self.path} ({exc.strerror or exc}); "
            f"{self._pending_bytes:,} bytes of events are kept in memory and written when the "
            f"disk takes them again (the file stays readable){dropped}; logging goes on",
            RuntimeWarning,
            stacklevel=1,
        )

    def _recovered(self) -> None:
        seconds = time.monotonic() - (self._failing_since or 0.0)
        self._failing_since = None
        dropped = (f"; {self.dropped} events were dropped for lack of memory" if self.dropped
                   else "; nothing was lost")
        warnings.warn(
            f"vizlog: {self.path} is written again after {seconds:.0f} s{dropped}",
            RuntimeWarning,
            stacklevel=1,
        )

    def close(self) -> bool:
        """Flush and close; False (with a warning saying how much) when events could not be
        written."""
        if self._fd < 0:
            return not self._pending
        written = self.flush()
        os.close(self._fd)
        self._fd = -1
        if not written:
            warnings.warn(
                f"vizlog: {self._pending_bytes:,} bytes of events could not be written to "
                f"{self.path} before the run closed (the disk refused them); they are lost",
                RuntimeWarning,
                stacklevel=1,
            )
        return written
