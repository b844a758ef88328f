"""The event-file writer: the same bytes as the writers' protobufs, valid TFRecord framing."""

from __future__ import annotations

import math

import pytest
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
from torch.utils.tensorboard.summary import scalar

from vizlog.backends.tensorboard import eventfile


@pytest.mark.parametrize(
    "tag, value, step, walltime",
    [("train/loss", 1.5, 3, 12.5), ("ü/x", 0.0, 0, 1.0), ("t", -0.0, -5, 0.0),
     ("n", math.nan, 2**40, 1e9), ("big", 1e39, 1, 2.0), ("i", -math.inf, 7, 3.0),
     ("long/" + "x" * 200, 2.0, 300, 5.0)],  # lengths of two varint bytes
)
def test_scalar_event_bytes_equal_the_writers(tag, value, step, walltime):
    expected = event_pb2.Event(summary=scalar(tag, value), step=step, wall_time=walltime)
    assert eventfile.scalar_event(tag, value, step, walltime) == expected.SerializeToString()


def test_checksum_equals_tensorboards():
    for data in (b"", b"x", b"hello world" * 50):
        assert eventfile.masked_crc32c(data) == masked_crc32c(data)


def test_event_file_reads_back_in_order(tmp_path):
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    f = eventfile.EventFile(str(tmp_path))
    for step in range(100):
        f.write(eventfile.scalar_event("loss", step / 10, step, 1000.0 + step))
    f.close()
    events = list(EventFileLoader(f.path).Load())
    assert events[0].file_version == "brain.Event:2"
    assert [(e.step, e.summary.value[0].tag) for e in events[1:]] == [
        (s, "loss") for s in range(100)
    ]
    assert events[-1].wall_time == 1099.0
