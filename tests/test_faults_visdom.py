"""Faults injected around the Visdom backend, read back from real Visdom servers on 127.0.0.1.

Each test starts from a way a run can go wrong -- an answer lost, a server that crashes and
comes back empty, ``vizlog replay`` killed half way, two Loggers on one logdir, a full disk, a
deleted logdir, a slow server -- and checks that every point logged ends up on the server
exactly once (or, where it cannot, that the warnings say truthfully where it is).  Random
moments are drawn from a fixed seed, and every wait is bounded.
"""

from __future__ import annotations

import collections
import http.client
import http.server
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
import warnings
from pathlib import Path

import pytest

pytest.importorskip("visdom")

import vizlog  # noqa: E402
from vizlog.backends.visdom import backend as backend_module  # noqa: E402
from vizlog.backends.visdom import spool as spool_module  # noqa: E402
from vizlog.backends.visdom.backend import VisdomBackend, VisdomUnavailableWarning  # noqa: E402
from vizlog.backends.visdom.http import VisdomHTTP, VisdomRejected, VisdomUnavailable  # noqa: E402
from vizlog.backends.visdom.replay import replay  # noqa: E402
from vizlog.backends.visdom.spool import Spool, pending_records  # noqa: E402
from vizlog.records import Scalar  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def _env() -> str:
    return "f" + uuid.uuid4().hex[:10]


def _windows(url: str, env: str) -> dict:
    http = VisdomHTTP(url, read_timeout=30.0)
    try:
        return json.loads(http.post("win_data", {"win": None, "eid": env}))
    except VisdomRejected:  # the server answers 500 for an environment it does not have
        return {}
    finally:
        http.close()


def _steps(url: str, env: str, tag: str) -> list[int]:
    """Every x of every trace of the scalar window of ``tag``, as the server holds them."""
    window = _windows(url, env).get(f"scalar:{tag}", {})
    return [int(x) for t in window.get("content", {}).get("data", []) for x in t["x"]]


def _duplicates(steps: list[int]) -> int:
    return sum(n - 1 for n in collections.Counter(steps).values())


def _replay_cli(logdir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vizlog", "replay", str(logdir), *args],
        capture_output=True, text=True, timeout=timeout, check=False, cwd=REPO,
    )


def _spool_files(logdir: Path) -> list[str]:
    return sorted(p.name for p in logdir.glob("visdom-spool*.jsonl") if "journal" not in p.name)


def _messages(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, VisdomUnavailableWarning)]


# ------------------------------------------------------------------------ E: lost answer


class LostAnswerThenPartition:
    """Lets the first request with points reach the server but loses its answer; then
    nothing gets through (the client is cut off from the server for the rest of the run).
    A new window's points go whole (``/events``), an existing one's as appends (``/update``)."""

    def __init__(self, real):
        self.real, self.cut = real, False

    def post(self, endpoint, message, timeout=None):
        if self.cut:
            raise VisdomUnavailable("connection refused")
        answer = self.real.post(endpoint, message, timeout)
        if endpoint in ("update", "events"):
            self.cut = True
            raise VisdomUnavailable("no answer in time")
        return answer

    def close(self):
        self.real.close()


def test_replay_after_a_lost_answer_sends_nothing_twice(visdom_server, tmp_path):
    env = _env()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        backend = VisdomBackend(str(tmp_path), server=visdom_server.url, env=env)
        backend._http = LostAnswerThenPartition(backend._http)
        backend.write_batch([Scalar("loss", s, 0.0, float(s)) for s in range(100)])
        backend.flush()
        backend.close()
    assert len(pending_records(tmp_path)) == 100  # not confirmed, so kept
    assert replay(tmp_path) == 100  # the server recorded in the spool
    assert _steps(visdom_server.url, env, "loss") == list(range(100))
    assert pending_records(tmp_path) == [] and _spool_files(tmp_path) == []


# ------------------------------------------------------------------------ faults 4


def test_points_delivered_but_not_saved_survive_a_crash_after_the_run(tmp_path, start_visdom):
    """The server dies before saving and is back only after the run ended: ``vizlog replay``
    restores what it had received, from the ledger's journal, and sends the spool."""
    env_path, env, logdir = tmp_path / "env", _env(), tmp_path / "run"
    server = start_visdom(env_path=env_path)
    log = vizlog.Logger(backend="visdom", logdir=logdir, server=server.url, env=env,
                        save_interval=3600)
    for step in range(3000):
        log.scalar("loss", float(step), step)
    assert log.flush()
    assert len(_steps(server.url, env, "loss")) == 3000
    os.killpg(server.pid, signal.SIGKILL)
    server.process.wait(timeout=10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in range(3000, 5000):
            log.scalar("loss", float(step), step)
        log.close()
    again = start_visdom(port=server.port, env_path=env_path)  # it had saved nothing
    result = _replay_cli(logdir)
    assert result.returncode == 0, result.stderr
    assert _steps(again.url, env, "loss") == list(range(5000))
    assert "replayed 2000 record(s)" in result.stdout
    assert _spool_files(logdir) == []
    (report,) = [m for m in _messages(caught) if "not delivered" in m]  # every one not safe
    assert "2000 records were not delivered" in report
    assert "3000 points the server received were not saved" in report
    assert "vizlog replay" in report


# ------------------------------------------------------------------------ faults 5


def test_replay_killed_at_random_moments_and_rerun_sends_nothing_twice(visdom_server, tmp_path):
    """SIGKILL lands between requests, or while one is under way (its answer lost): the
    ledger saved before and after each request tells the next replay what arrived."""
    tags, steps = [f"t{k}" for k in range(6)], 3000  # 18,000 records: 2 chunks x 6 appends
    total = len(tags) * steps
    env, logdir = _env(), tmp_path / "run"
    dead = f"http://127.0.0.1:{vizlog.servers.free_port()}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with vizlog.Logger(backend="visdom", logdir=logdir, server=dead, env=env) as log:
            for step in range(steps):
                for tag in tags:
                    log.scalar(tag, float(step), step)
    assert len(pending_records(logdir)) == total
    rng = random.Random(20240611)
    killed_midway, deadline = 0, time.monotonic() + 20

    def held() -> int:  # one request: the server answers for all windows at once
        windows = _windows(visdom_server.url, env).values()
        return sum(len(t["x"]) for w in windows for t in w["content"]["data"])

    for _ in range(5):
        before = held()
        if before == total or time.monotonic() > deadline:
            break
        process = subprocess.Popen(
            [sys.executable, "-m", "vizlog", "replay", str(logdir), "--server",
             visdom_server.url], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        while process.poll() is None and held() == before and time.monotonic() < deadline:
            time.sleep(0.05)  # until the server shows part of the spool arrived
        time.sleep(rng.uniform(0.0, 0.05))  # then somewhere in the middle of the work
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed_midway += 0 < held() < total
        process.wait(timeout=10)
    result = _replay_cli(logdir, "--server", visdom_server.url)
    assert result.returncode == 0, result.stderr
    assert killed_midway >= 1
    for tag in tags:
        got = _steps(visdom_server.url, env, tag)
        assert _duplicates(got) == 0, f"{tag}: {_duplicates(got)} points sent twice"
        assert sorted(got) == list(range(steps))
    assert pending_records(logdir) == []


# ------------------------------------------------------------------------ H, faults 7


def test_two_loggers_on_one_logdir_each_deliver_their_own(tmp_path, free_port, start_visdom):
    """Three Loggers share a logdir (two environments, two of them in the same one) while
    the server is down, then comes up: each delivers its own records to its own
    environment, once; a spool owned by a live Logger is left alone by ``vizlog replay``."""
    url, logdir = f"http://127.0.0.1:{free_port}", tmp_path / "run"
    train, evaluation = _env(), _env()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logs = {
            ("a", train): vizlog.Logger(backend="visdom", logdir=logdir, server=url, env=train),
            ("b", evaluation): vizlog.Logger(
                backend="visdom", logdir=logdir, server=url, env=evaluation
            ),
            ("c", train): vizlog.Logger(backend="visdom", logdir=logdir, server=url, env=train),
        }
        for step in range(1500):  # the server is down: each spools into its own file
            for (tag, _), log in logs.items():
                log.scalar(tag, float(step), step)
        for log in logs.values():
            log.flush()
        spools = _spool_files(logdir)
        result = _replay_cli(logdir, "--server", url)  # every spool is owned by a live Logger
        server = start_visdom(port=free_port)
        time.sleep(0.6)  # past the first retry interval
        for step in range(1500, 2000):
            for (tag, _), log in logs.items():
                log.scalar(tag, float(step), step)
        for log in logs.values():
            assert log.close(timeout=60)
    for tag, env in logs:
        other = evaluation if env == train else train
        got = _steps(server.url, env, tag)
        assert _duplicates(got) == 0 and sorted(got) == list(range(2000)), tag
        assert f"scalar:{tag}" not in _windows(server.url, other)
    assert _spool_files(logdir) == [] and pending_records(logdir) == []
    assert len(spools) == 3  # one each, named apart
    assert result.returncode == 0 and "replayed 0 record(s)" in result.stdout
    assert result.stderr.count("a running process owns it") == 3


def test_replay_delivers_each_leftover_spool_to_its_own_environment(visdom_server, tmp_path):
    logdir, dead = tmp_path / "run", f"http://127.0.0.1:{vizlog.servers.free_port()}"
    envs = [_env(), _env()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k, env in enumerate(envs):
            with vizlog.Logger(backend="visdom", logdir=logdir, server=dead, env=env) as log:
                for step in range(100 * (k + 1)):
                    log.scalar("loss", float(step), step)
    spools = _spool_files(logdir)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        delivered = replay(logdir, server=visdom_server.url)
    for k, env in enumerate(envs):
        assert _steps(visdom_server.url, env, "loss") == list(range(100 * (k + 1)))
    assert delivered == 300 and len(spools) == 2 and _spool_files(logdir) == []


# ------------------------------------------------------------------------ faults 2


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KiB tmpfs, filled but for about 60 KiB (``free()`` gives the space back)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {result.stderr.strip()}")
    filler = mount / "filler"
    stat = os.statvfs(mount)
    filler.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - 60_000))
    try:
        yield mount, filler.unlink
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_keeps_the_spool_whole_and_delivers_all_it_kept(
    tiny_disk, free_port, start_visdom, monkeypatch
):
    mount, free = tiny_disk
    # ~550 records in memory (raising=False: the test also runs against code without it)
    monkeypatch.setattr(spool_module, "MEMORY_LIMIT", 40_000, raising=False)
    url, env, logdir = f"http://127.0.0.1:{free_port}", _env(), mount / "run"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log = vizlog.Logger(backend="visdom", logdir=logdir, server=url, env=env)
        for step in range(3000):  # server down, and the disk fills up
            log.scalar("loss", float(step), step)
        assert log.flush()
        during = _messages(caught)
        lines = (logdir / "visdom-spool.jsonl").read_bytes().splitlines(keepends=True)
        assert 0 < len(lines) < 3000
        assert all(line.endswith(b"\n") and json.loads(line) for line in lines)  # none torn
        free()
        server = start_visdom(port=free_port)
        for step in range(3000, 3500):
            log.scalar("loss", float(step), step)
        assert log.close(timeout=60)
    assert any("No space left on device" in m and "kept in memory" in m for m in during), during
    (report,) = [m for m in _messages(caught) if "were dropped" in m]
    dropped = int(report.split(" records were dropped")[0].rsplit(" ", 1)[1])
    got = _steps(server.url, env, "loss")
    assert _duplicates(got) == 0
    assert len(got) == 3500 - dropped and 0 < dropped < 3000
    assert set(range(len(lines))) <= set(got) and set(range(3000, 3500)) <= set(got)
    assert _spool_files(logdir) == []


def test_replay_passes_over_a_torn_line_and_says_so(visdom_server, tmp_path):
    spool = Spool(tmp_path)
    spool.append([Scalar("loss", s, 0.0, float(s)) for s in range(3)])
    spool.close()
    with open(spool.path, "ab") as f:  # what an older version left after a full disk
        f.write(b'{"tag":"loss","step":3,"wal')
        f.write(b'{"tag":"loss","step":4,"walltime":0.0,"value":4.0,"kind":"scalar"}\n')
    env = _env()
    result = _replay_cli(tmp_path, "--server", visdom_server.url, "--env", env)
    assert result.returncode == 0, result.stderr
    assert "passed over 1 unreadable line(s)" in result.stderr
    assert _steps(visdom_server.url, env, "loss") == [0, 1, 2]


# ------------------------------------------------------------------------ faults 10


def test_logdir_deleted_mid_run_the_spool_is_made_again_and_named_truly(tmp_path, free_port):
    logdir = tmp_path / "run"
    url = f"http://127.0.0.1:{free_port}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log = vizlog.Logger(backend="visdom", logdir=logdir, server=url, env=_env())
        for step in range(2000):
            log.scalar("loss", float(step), step)
        assert log.flush()
        shutil.rmtree(logdir)  # a cleanup script, a user
        for step in range(2000, 4000):
            log.scalar("loss", float(step), step)
        assert log.flush()
        log.close()
    messages = _messages(caught)
    assert any("deleted while the run went on" in m for m in messages), messages
    named = [path for m in messages for path in re.findall(r"kept in (\S+?\.jsonl)", m)]
    assert named and all(os.path.exists(path) for path in named), named
    assert [r.step for r in pending_records(logdir)] == list(range(4000))


def test_a_spool_that_cannot_be_made_is_not_said_to_keep_anything(tmp_path, free_port):
    logdir = tmp_path / "run"
    url = f"http://127.0.0.1:{free_port}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log = vizlog.Logger(backend="visdom", logdir=logdir, server=url, env=_env())
        shutil.rmtree(logdir)
        logdir.write_text("a file where the logdir was: it cannot be made again")
        for step in range(3000):
            log.scalar("loss", float(step), step)
        assert log.flush()
        log.close()
    messages = _messages(caught)
    assert messages and not any(".jsonl" in m and "kept in /" in m for m in messages), messages
    assert any("kept in memory (3000 now" in m for m in messages), messages
    (report,) = [m for m in messages if "not delivered" in m]
    assert "3000 records were not delivered and could not be written to disk" in report
    assert "lost when this process ends" in report and "vizlog replay" not in report


# ------------------------------------------------------------------------ faults 11


class SlowProxy:
    """An HTTP proxy on 127.0.0.1 that answers every request ``delay`` seconds late: a
    Visdom server that is up, but slow (swapping, or busy with a huge environment)."""

    def __init__(self, target: str, delay: float) -> None:
        self.delay = delay
        host, port = target.split("//")[1].rstrip("/").split(":")
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(proxy.delay)
                connection = http.client.HTTPConnection(host, int(port), timeout=60)
                try:
                    connection.request("POST", self.path, body)
                    answer = connection.getresponse()
                    data = answer.read()
                finally:
                    connection.close()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_slow_server_bounds_flush_and_close_and_still_gets_live_data(
    visdom_server, tmp_path, monkeypatch
):
    """2.1 s per request, 40 windows: unbounded, a flush would take about 90 s; a probe
    capped at 2 s would call the server down although ``timeout=4`` allows it.  ``flush()``
    without a timeout is bounded by ``FLUSH_SECONDS`` (10 s; 8 here), ``close(timeout=)`` by
    the caller's."""
    monkeypatch.setattr(backend_module, "FLUSH_SECONDS", 8.0, raising=False)
    proxy = SlowProxy(visdom_server.url, delay=2.1)
    env, logdir, tags = _env(), tmp_path / "run", [f"m{k}" for k in range(40)]
    try:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            log = vizlog.Logger(backend="visdom", logdir=logdir, server=proxy.url, env=env,
                                timeout=4)
            for step in range(10):
                for tag in tags:
                    log.scalar(tag, float(step), step)
            started = time.monotonic()
            flushed = log.flush()  # no timeout: the backend bounds its own work
            flushing = time.monotonic() - started
            live = [tag for tag in tags if _steps(visdom_server.url, env, tag)]
            started = time.monotonic()
            closed = log.close(timeout=5)
            closing = time.monotonic() - started
        assert flushed and flushing < 8.5, flushing
        assert closed and closing < 5.5, closing
        assert live, "a server slower than 2 s got no live data"
        proxy.delay = 0.0  # the server is quick again: replay to where the run sent
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            replay(logdir)
    finally:
        proxy.stop()
    for tag in tags:
        assert _steps(visdom_server.url, env, tag) == list(range(10)), tag
