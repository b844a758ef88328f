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


def test_scalar_frames_equal_one_frame_per_scalar_event():
    from vizlog.records import Scalar

    records = [Scalar(tag, step, walltime, value) for tag, value, step, walltime in [
        ("train/loss", 1.5, 3, 12.5), ("ü/x", 0.0, 0, 1.0), ("t", -0.0, -5, 0.0),
        ("n", math.nan, 2**40, 1e9), ("big", 1e39, 1, 2.0), ("i", -math.inf, 127, 3.0),
        ("long/" + "x" * 200, 2.0, 128, 5.0), ("train/loss", 2.5, 4, 0.0),
    ]]
    expected = b"".join(eventfile.frame(eventfile.scalar_event(r.tag, r.value, r.step,
                                                               r.walltime)) for r in records)
    points = [(r.tag, r.value, r.step, r.walltime) for r in records]
    assert eventfile.scalar_frames(points) == expected


def test_a_scalar_that_cannot_be_encoded_is_set_aside_alone(tmp_path, monkeypatch):
    from eventfiles import accumulate

    from vizlog.backends.tensorboard import writer
    from vizlog.records import Scalar

    backend = writer.TorchTensorBoardBackend(str(tmp_path))
    bad = Scalar("bad", 2, 1.0, 0.0)
    real = eventfile.scalar_event

    def scalar_event(tag, value, step, walltime):
        if tag == "bad":
            raise ValueError("cannot encode")
        return real(tag, value, step, walltime)

    def scalar_frames(scalars):
        raise ValueError("cannot encode")

    monkeypatch.setattr(writer, "scalar_event", scalar_event)
    monkeypatch.setattr(writer, "scalar_frames", scalar_frames)
    failed = backend.write_batch([Scalar("ok", 1, 1.0, 1.0), bad, Scalar("ok", 3, 1.0, 3.0)])
    backend.close()
    assert [record for record, _ in failed] == [bad]
    assert [e.step for e in accumulate(tmp_path).Scalars("ok")] == [1, 3]


def test_framed_scalars_beyond_the_memory_bound_are_counted_as_dropped(tmp_path, monkeypatch):
    """While the disk refuses events, framed scalars obey the same bound as single events."""
    monkeypatch.setattr(eventfile, "MAX_UNWRITTEN_BYTES", 1)
    events = eventfile.EventFile(str(tmp_path))
    points = [("loss", 1.0, step, 2.0) for step in range(3)]
    events.write_framed(eventfile.scalar_frames(points), len(points))  # under the bound
    events.write_framed(eventfile.scalar_frames(points), len(points))  # over it: dropped
    assert events.dropped == 3
    events.close()


def test_event_files_sort_in_the_order_they_were_opened(tmp_path) -> None:
    """TensorBoard reads a run's files in name order: the tenth file of a process must not
    sort before the ninth (a resumed run's purge would then come first)."""
    files = [eventfile.EventFile(str(tmp_path)) for _ in range(12)]
    names = [f.path for f in files]
    for f in files:
        f.close()
    assert sorted(names) == names
