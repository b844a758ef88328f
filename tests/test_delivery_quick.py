"""The quick path's hand-over (a packed record put in the queue without a lock) keeps every
promise of the locked one: the same records on disk, the steps a later call continues from,
the bound on how far the sender may fall behind, and a word for calls that come too late."""

from __future__ import annotations

import os
import sys
import threading
import time
import warnings

import pytest
from eventfiles import accumulate

import vizlog
from vizlog.backends.base import Backend
from vizlog.backends.tensorboard.writer import TorchTensorBoardBackend
from vizlog.delivery import BackgroundDelivery
from vizlog.records import Scalar, Scalars


def test_quick_and_full_paths_write_the_same_events(tmp_path):
    """The first call of a tag takes the full path; the rest are packed and built on the
    sender.  TensorBoard's loader must read back both, in order, including a scalars key
    first met on the quick path of its main tag."""
    with vizlog.Logger("tensorboard", logdir=tmp_path) as log:
        for step in range(300):
            log.scalar("loss", step / 7, step)
            log.scalars("split", {"train": float(step), "val": -float(step)}, step)
    acc = accumulate(tmp_path)
    assert [(e.step, e.value) for e in acc.Scalars("loss")] == [
        (s, pytest.approx(s / 7, rel=1e-6)) for s in range(300)]
    for key, sign in (("train", 1), ("val", -1)):
        run = accumulate(tmp_path / key)
        assert [(e.step, e.value) for e in run.Scalars("split")] == [
            (s, sign * float(s)) for s in range(300)]


@pytest.mark.parametrize("method", ["scalar", "scalars"])
def test_a_call_without_a_step_follows_the_quick_paths_last(method):
    with vizlog.Logger("fake") as log:
        def call(step):
            if method == "scalar":
                log.scalar("t", 1.0, step)
            else:
                log.scalars("t", {"a": 1.0}, step)
        call(10)  # full path: the tag is new
        call(41)  # quick path
        call(None)  # full path: continues from 41
        call(5)  # quick path again, going back
        call(None)
        steps = [r.step for r in log.get_backend("fake").records(method)]
    assert steps == [10, 41, 42, 5, 6]


class _HeldBackend(Backend):
    """Writes nothing, and blocks in ``write_batch`` while ``hold`` is clear: a disk that
    stops answering, which nothing real can be made to do on demand here."""

    name = "held"
    writes_files = False

    def __init__(self, logdir: str, max_lag: float) -> None:
        super().__init__(logdir)
        self.max_lag = max_lag
        self.poll_seconds = 0.05
        self.hold = threading.Event()
        self.entered = threading.Event()
        self.written: list[object] = []

    def write_batch(self, records):
        self.entered.set()
        self.hold.wait(30)
        self.written.extend(records)
        return []


def test_a_stuck_sender_holds_the_quick_path_back_after_max_lag(tmp_path):
    backend = _HeldBackend(str(tmp_path), max_lag=0.3)
    delivery = BackgroundDelivery(backend)
    try:
        delivery.put((Scalar, "t", 0, 0.0, 1.0))
        assert backend.entered.wait(5)  # the sender took it and is stuck writing
        before = time.monotonic()
        for step in range(1, 11):  # within the bound: plain appends
            delivery.put((Scalar, "t", step, 0.0, 1.0))
        quick = time.monotonic() - before
        time.sleep(0.4)  # the sender has not taken anything for longer than max_lag
        releaser = threading.Timer(0.5, backend.hold.set)
        releaser.start()
        before = time.monotonic()
        delivery.put((Scalar, "t", 1000, 0.0, 1.0))  # past the bound: waits for the sender
        waited = time.monotonic() - before
        releaser.join()
    finally:
        backend.hold.set()
        assert delivery.close(10)
    assert quick < 0.2, f"puts within the bound took {quick:.2f} s"
    assert waited >= 0.3, f"a put past max_lag returned after {waited:.2f} s"
    steps = [r.step for r in backend.written]
    assert steps[0] == 0 and steps[-1] == 1000 and steps == sorted(steps)
    assert all(type(r) is Scalar for r in backend.written)


def test_a_full_queue_holds_the_quick_path_back(tmp_path):
    backend = _HeldBackend(str(tmp_path), max_lag=60.0)
    delivery = BackgroundDelivery(backend, queue_size=50)
    try:
        delivery.put((Scalar, "t", 0, 0.0, 1.0))
        assert backend.entered.wait(5)
        for step in range(1, 51):
            delivery.put((Scalar, "t", step, 0.0, 1.0))
        assert len(delivery._queue) == 50
        releaser = threading.Timer(0.3, backend.hold.set)
        releaser.start()
        before = time.monotonic()
        delivery.put((Scalar, "t", 51, 0.0, 1.0))
        waited = time.monotonic() - before
        releaser.join()
    finally:
        backend.hold.set()
        assert delivery.close(10)
    assert waited >= 0.2
    assert [r.step for r in backend.written] == list(range(52))


def test_a_quick_call_that_lands_after_close_is_reported(tmp_path):
    """A call racing with ``close()`` may pass its check just before the Logger closes and
    put its record after the sender's last batch: it is not written, and a warning says so
    (the call cannot be delivered and must not vanish silently)."""
    log = vizlog.Logger("tensorboard", logdir=tmp_path)
    log.scalar("t", 1.0, 0)
    delivery = log._sinks[0]
    backend = delivery.backend
    close_backend = backend.close

    def close_racing(deadline=None):
        delivery.put((Scalar, "t", 1, time.time(), 2.0))  # the racing call's put
        close_backend(deadline)

    backend.close = close_racing
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log.close()
    messages = [str(w.message) for w in caught]
    assert any("1 record(s) logged while the Logger was closing" in m for m in messages), messages
    assert [e.step for e in accumulate(tmp_path).Scalars("t")] == [0]


def test_a_failing_key_file_sets_aside_its_records_only(tmp_path):
    """A batch's scalars are written per key; a key whose run cannot be created costs the
    records that hold it (counted, with a warning) and nothing else."""
    (tmp_path / "broken").write_text("a file where the key's run directory would go")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with vizlog.Logger("tensorboard", logdir=tmp_path) as log:
            for step in range(20):
                log.scalars("pair", {"good": float(step)}, step)
                log.scalars("both", {"good": 1.0, "broken": 2.0}, step)
            log.flush()
            failures = log._sinks[0].failures.total
    assert failures == 20
    assert any("failed to write a scalars record" in str(w.message) for w in caught)
    good = accumulate(tmp_path / "good")
    assert [e.step for e in good.Scalars("pair")] == list(range(20))
    assert [e.step for e in good.Scalars("both")] == list(range(20))
    assert not os.path.isdir(tmp_path / "broken")


def test_scalars_records_built_on_the_sender_are_records(tmp_path):
    backend = _HeldBackend(str(tmp_path), max_lag=60.0)
    backend.hold.set()
    delivery = BackgroundDelivery(backend)
    delivery.put((Scalars, "m", 3, 1.5, {"a": 1.0}))
    assert delivery.close(10)
    assert backend.written == [Scalars("m", 3, 1.5, {"a": 1.0})]


class CountingBackend(TorchTensorBoardBackend):
    """The real backend, counting what it has written."""

    written = 0

    def write_batch(self, records):
        failed = super().write_batch(records)
        self.written += len(records)
        return failed


def _gil_waits(tmp_path, name: str, records: int) -> list[float]:
    """Act as a training thread: six logging calls, then 0.2 ms in torch (without the GIL),
    until ``records`` are logged and written.  How long (ms) each return to Python waited
    for the GIL, longest first."""
    backend = CountingBackend(str(tmp_path / name))
    delivery = BackgroundDelivery(backend)
    try:
        waits = []
        step = 0
        deadline = time.monotonic() + 60
        while backend.written < records and time.monotonic() < deadline:
            for _ in range(6 if step < records else 0):
                delivery.put((Scalar, "t", step, 1.0, 1.0))
                step += 1
            start = time.perf_counter()
            time.sleep(0.0002)  # a torch call: the GIL is free meanwhile
            waits.append(time.perf_counter() - start - 0.0002)
        assert backend.written == records
    finally:
        delivery.close(30)
    return sorted((1000 * w for w in waits), reverse=True)


def test_the_sender_lets_a_thread_back_from_torch_run_at_once(tmp_path, monkeypatch):
    """A training thread coming back from torch to Python gets the GIL within a chunk of
    writes, not after the sender's whole batch (or Python's 5 ms switch interval).  Without
    the pauses (the second half) the same run leaves it waiting over 1 ms about 30 times;
    with them, about once."""
    from vizlog import delivery as delivery_module

    assert sys.getswitchinterval() == pytest.approx(0.005)
    waits = {"paused": _gil_waits(tmp_path, "paused", 30_000)}
    monkeypatch.setattr(delivery_module, "WRITE_CHUNK", 10**9)
    waits["unpaused"] = _gil_waits(tmp_path, "unpaused", 30_000)
    long_unpaused = sum(w >= 1 for w in waits["unpaused"])
    long_paused = sum(w >= 1 for w in waits["paused"])
    assert long_unpaused >= 10, waits["unpaused"][:10]  # the effect is there to remove
    assert long_paused <= long_unpaused / 4, waits["paused"][:10]


def test_a_sender_behind_a_thread_running_python_writes_without_pauses(tmp_path):
    """The pauses help only a thread that lets go of the GIL: one running Python takes it
    every 5 ms anyway, and each pause would cost the sender 5 ms waiting to get it back.
    Here the sender writes 30,000 records behind a busy thread in well under a second (with a
    pause per 16 records, before pauses stopped behind such a thread, it took 10 s)."""
    backend = CountingBackend(str(tmp_path / "busy"))
    delivery = BackgroundDelivery(backend)
    try:
        for step in range(30_000):
            delivery.put((Scalar, "t", step, 1.0, 1.0))
        start = time.monotonic()
        spins = 0
        while backend.written < 30_000 and time.monotonic() - start < 60:
            spins += 1  # Python, never letting go of the GIL by itself
        took = time.monotonic() - start
    finally:
        delivery.close(30)
    assert backend.written == 30_000
    assert took < 1.5, f"{took:.2f} s"


def test_a_threaded_backend_gets_the_senders_pause():
    """``Backend.pause`` is a no-op until the delivery thread runs the backend; then it is
    the sender's own pause, so a backend's long loops let the training thread in."""

    class Quiet(Backend):
        name = "quiet"

        def write(self, record):
            pass

    backend = Quiet("")
    assert backend.pause() is None  # callable before any thread exists
    delivery = BackgroundDelivery(backend)
    try:
        assert backend.pause == delivery._pause
    finally:
        delivery.close()
