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
from collections.abc import Callable

_DOUBLE = struct.Struct("<d")
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
    header = _UINT64.pack(len(data))
    return (header + _UINT32.pack(masked_crc32c(header)) + data
            + _UINT32.pack(masked_crc32c(data)))


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
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


def scalar_event(tag: str, value: float, step: int, walltime: float) -> bytes:
    """The Event ``SummaryWriter.add_scalar`` writes: Summary.Value(tag, simple_value)."""
    item = _field_bytes(1, tag.encode("utf-8"))
    try:
        packed = _FLOAT.pack(value)
    except OverflowError:  # beyond float32: the protobuf stores an infinity
        packed = _FLOAT.pack(float("inf") if value > 0 else float("-inf"))
    item += b"\x15" + packed  # in a oneof: written even when 0
    return summary_event(_field_bytes(1, item), step, walltime)


def graph_event(graph_def: bytes, step: int, walltime: float) -> bytes:
    return _event_head(step, walltime) + _field_bytes(4, graph_def)


class EventFile:
    """One ``events.out.tfevents.*`` file; records are buffered until ``flush``."""

    def __init__(self, logdir: str) -> None:
        os.makedirs(logdir, exist_ok=True)
        name = (f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
                f"{os.getpid()}.{next(_file_counter)}")
        self.path = os.path.join(logdir, name)
        self._file = open(self.path, "ab")  # noqa: SIM115 - kept open for the run
        self._pending: list[bytes] = []
        now = time.time()
        # Event(wall_time=now, file_version="brain.Event:2") opens every event file
        self.write(b"\x09" + _DOUBLE.pack(now) + _field_bytes(3, b"brain.Event:2"))
        self.flush()

    def write(self, event: bytes) -> None:
        self._pending.append(frame(event))

    def flush(self) -> None:
        if self._pending:
            self._file.write(b"".join(self._pending))
            self._pending.clear()
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self.flush()
            self._file.close()
