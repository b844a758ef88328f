"""Fault injection on the TensorBoard side: a disk that fills and frees, SIGKILL under load,
a deleted logdir, SIGTERM while the main thread is blocked in C, a forked child that never
closes.  Everything is read back with TensorBoard's loader and a CRC walk of every frame.

``VIZLOG_SOAK=1`` runs the random parts longer.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from eventfiles import accumulate

import vizlog
from vizlog.backends.tensorboard.eventfile import masked_crc32c
from vizlog.export import scalar_rows
from vizlog.servers import free_port

SOAK = os.environ.get("VIZLOG_SOAK") == "1"


def crc_walk(path: Path) -> tuple[int, int]:
    """(complete records, bytes after the last complete record); any bad frame fails."""
    data = path.read_bytes()
    offset = records = 0
    while len(data) - offset >= 12:
        header = data[offset : offset + 8]
        (length,) = struct.unpack("<Q", header)
        assert masked_crc32c(header) == struct.unpack("<I", data[offset + 8 : offset + 12])[0]
        end = offset + 12 + length + 4
        if end > len(data):
            break
        body = data[offset + 12 : offset + 12 + length]
        assert masked_crc32c(body) == struct.unpack("<I", data[end - 4 : end])[0], offset
        records += 1
        offset = end
    return records, len(data) - offset


def event_paths(logdir: Path) -> list[Path]:
    return sorted(logdir.rglob("events.out.tfevents.*"))


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 1 MiB tmpfs that the test can fill and grow."""
    mount = Path(tempfile.mkdtemp(prefix="vizlog-tmpfs-"))
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or 'not root'}); "
                    "the disk-full tests need root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        shutil.rmtree(mount, ignore_errors=True)


def _fill(directory: Path) -> None:
    """Write a file until the disk refuses more."""
    with open(directory / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass


def test_disk_full_then_space_returns(small_disk: Path) -> None:
    rng = np.random.default_rng(0)
    logdir = small_disk / "run"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log = vizlog.Logger("tensorboard", logdir=logdir, flush_secs=0.5)
        log.scalar("loss", 0.0, 0)
        log.flush()
        _fill(small_disk)
        for step in range(1, 3000):
            log.scalar("loss", float(step), step)
            if step % 200 == 0:
                log.image("img", rng.random((3, 64, 64)), step)
        assert log.flush() is True  # delivered to the backend; the disk refused it
        assert any("kept in memory" in str(w.message) for w in caught)
        for path in event_paths(logdir):  # whole records at every moment
            assert crc_walk(path)[1] == 0
        subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
        for step in range(3000, 4000):
            log.scalar("loss", float(step), step)
        log.close()
    messages = [str(w.message) for w in caught]
    assert any("written again" in m and "nothing was lost" in m for m in messages), messages
    for path in event_paths(logdir):
        assert crc_walk(path)[1] == 0
    acc = accumulate(logdir)
    assert [e.step for e in acc.Scalars("loss")] == list(range(4000))
    assert [e.step for e in acc.Images("img")] == list(range(200, 3000, 200))


def test_logdir_deleted_midrun_warns_and_keeps_logging(tmp_path: Path) -> None:
    logdir = tmp_path / "run"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log = vizlog.Logger("tensorboard", logdir=logdir)
        for i in range(2000):
            log.scalar("loss", float(i), i)
        log.flush()
        shutil.rmtree(logdir)
        for i in range(2000, 4000):
            log.scalar("loss", float(i), i)
        log.close()
    assert any("was deleted while the run was writing it" in str(w.message) for w in caught)
    steps = [row["step"] for row in scalar_rows(logdir)]
    assert steps == list(range(2000, 4000))


KILL_CHILD = textwrap.dedent("""
    import sys, time, vizlog
    log = vizlog.Logger("tensorboard", logdir=sys.argv[1], flush_secs=float(sys.argv[2]))
    origin, spin = float(sys.argv[3]), sys.argv[4] == "spin"
    step = 0
    while True:
        for _ in range(500):
            log.scalar("loss", time.time() - origin, step)
            step += 1
        print(step, time.time(), flush=True)
        if spin:  # Python, as a data pipeline runs it: the GIL only goes every 5 ms
            until = time.perf_counter() + 0.005
            while time.perf_counter() < until:
                pass
        else:
            time.sleep(0.005)
""")


@pytest.mark.parametrize("trial", range(8 if SOAK else 3))
@pytest.mark.parametrize("between", ["sleep", "spin"])
def test_sigkill_under_load_loses_at_most_flush_secs(tmp_path: Path, trial: int,
                                                      between: str) -> None:
    """Between bursts of 500 calls the child sleeps 5 ms, or runs Python for 5 ms: then the
    sender gets the GIL only when Python's switch interval takes it away."""
    flush_secs = 1.0
    rng = random.Random(trial)
    origin = time.time()  # values are seconds since then: float32 keeps milliseconds
    child = subprocess.Popen(
        [sys.executable, "-c", KILL_CHILD, str(tmp_path), str(flush_secs), str(origin),
         between],
        stdout=subprocess.PIPE, text=True,
    )
    assert child.stdout is not None
    child.stdout.readline()
    time.sleep(1.5 + rng.random() * 2.0)
    killed_at = time.time()
    child.send_signal(signal.SIGKILL)
    child.wait()
    for path in event_paths(tmp_path):
        crc_walk(path)  # every complete frame is valid; a torn tail is allowed after SIGKILL
    values = [e.value for e in accumulate(tmp_path).Scalars("loss")]
    age = killed_at - origin - max(values)  # each value is when the point was logged
    assert age <= flush_secs + 0.5, f"the newest saved point is {age:.2f} s old"


def _forked_worker(logdir: str) -> None:
    log = vizlog.Logger("tensorboard", logdir=logdir)
    for i in range(1000):
        log.scalar("loss", float(i), i)
    # returns without close(), as scripts do


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_logger_in_multiprocessing_child_without_close(tmp_path: Path, method: str) -> None:
    process = multiprocessing.get_context(method).Process(target=_forked_worker,
                                                          args=(str(tmp_path),))
    process.start()
    process.join(60)
    assert process.exitcode == 0
    assert [row["step"] for row in scalar_rows(tmp_path)] == list(range(1000))


BLOCKED_CHILD = textwrap.dedent("""
    import datetime, sys
    import torch.distributed as dist
    if sys.argv[1] == "with":
        import vizlog
        log = vizlog.Logger("tensorboard", logdir=sys.argv[3])
        for i in range(1000):
            log.scalar("loss", float(i), i)
    print("ready", flush=True)
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:" + sys.argv[2], rank=0,
                            world_size=2, timeout=datetime.timedelta(seconds=30))
""")


@pytest.mark.parametrize("mode", ["without", "with"])
def test_sigterm_ends_a_process_blocked_in_c(tmp_path: Path, mode: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", BLOCKED_CHILD, mode, str(free_port()), str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )
    assert child.stdout is not None
    child.stdout.readline()
    time.sleep(1.0)  # inside init_process_group, waiting for a peer that never comes
    start = time.monotonic()
    child.send_signal(signal.SIGTERM)
    try:
        code = child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        pytest.fail("SIGTERM did not end the process within 10 s")
    assert code == -signal.SIGTERM
    assert time.monotonic() - start < 5
    if mode == "with":
        assert [row["step"] for row in scalar_rows(tmp_path)] == list(range(1000))
