"""A run that ends badly keeps its curves.

One child process per ending (``tests/child_logging.py``) opens four Loggers (the two
TensorBoard writers, Visdom with its server up, Visdom with no server so that everything is
spooled), logs 10,000 scalars into each without calling ``flush`` or ``close``, and then
returns, raises, gets SIGTERM, SIGINT or SIGKILL.  Afterwards every value is read back: from
the event files, and from the Visdom server plus the spool.  The children run side by side.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from eventfiles import accumulate

from vizlog import servers
from vizlog.backends.visdom.http import VisdomHTTP
from vizlog.backends.visdom.spool import pending_records
from vizlog.records import Scalar

N = 10_000
CHILD = Path(__file__).with_name("child_logging.py")
REPO = CHILD.parent.parent
HOWS = ("return", "raise", "sigterm", "sigint")
#: SIGTERM while the main thread is inside logging calls: N values and more, in order
BUSY = "sigterm-busy"
BACKENDS = ("tensorboard", "tensorboardx", "visdom", "visdom-spooled")
SIGNALS = {"sigterm": signal.SIGTERM, "sigint": signal.SIGINT, "sigkill": signal.SIGKILL,
           BUSY: signal.SIGTERM}
#: how each ending shows in the exit status
EXIT_STATUS = {"return": 0, "raise": 1, "sigterm": -signal.SIGTERM, "sigint": -signal.SIGINT,
               "sigkill": -signal.SIGKILL, BUSY: -signal.SIGTERM}
CHILD_TIMEOUT = 120.0
#: the SIGKILL test's flush interval, and how long after the last logging call it kills
KILL_FLUSH_SECS = 1.0
KILL_AFTER = KILL_FLUSH_SECS + 2.0


@dataclass
class Child:
    how: str
    root: Path
    envs: dict[str, str]  # backend -> Visdom environment
    process: subprocess.Popen[str]
    status: int | None = None
    stderr: str = ""
    logged_at: float = field(default=0.0)

    def logdir(self, backend: str) -> Path:
        return self.root / backend


def _start(how: str, root: Path, server_url: str, extra_env: dict[str, str] | None = None
           ) -> Child:
    runs, envs = [], {}
    for backend in BACKENDS:
        options: dict[str, object] = {}
        if backend.startswith("visdom"):
            envs[backend] = "exit-" + uuid.uuid4().hex[:10]
            dead = f"http://127.0.0.1:{servers.free_port()}"  # nothing listens there
            options = {"server": server_url if backend == "visdom" else dead,
                       "env": envs[backend]}
        if how == BUSY:  # a short queue: the backlog to write at close stays small
            options["queue_size"] = 2_000
        runs.append({"backend": backend.split("-")[0], "logdir": str(root / backend),
                     "options": options})
    mode = how if how in ("return", "raise") else "busy" if how == BUSY else "wait"
    environ = dict(os.environ, PYTHONUNBUFFERED="1", **(extra_env or {}))
    process = subprocess.Popen(
        [sys.executable, str(CHILD), mode, str(N), json.dumps(runs)],
        cwd=REPO, env=environ, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        # a job started in the background inherits SIGINT ignored; Ctrl-C is what is tested
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    return Child(how, root, envs, process)


def _finish(children: list[Child], signal_after: float = 0.0) -> None:
    """Signal the children that wait for one (``signal_after`` seconds after they have
    logged), then reap them all."""
    deadline = time.monotonic() + CHILD_TIMEOUT
    try:
        waiting = [c for c in children if c.how in SIGNALS]
        for child in waiting:
            line = child.process.stdout.readline()  # blocks until it has logged (or died)
            assert line.strip() == "logged", f"{child.how}: did not log: {line!r}"
            child.logged_at = time.monotonic()
        for child in waiting:
            pause = child.logged_at + signal_after - time.monotonic()
            if pause > 0:
                # not a synchronisation: the time since the last call is what is tested
                time.sleep(pause)
            child.process.send_signal(SIGNALS[child.how])
        for child in children:
            _, child.stderr = child.process.communicate(
                timeout=max(1.0, deadline - time.monotonic())
            )
            child.status = child.process.returncode
    finally:
        for child in children:
            if child.process.poll() is None:
                child.process.kill()
                child.process.wait()


def _visdom_steps(child: Child, backend: str, server: servers.Server) -> list[int]:
    """Steps delivered to the server, then those waiting in the spool."""
    steps: list[int] = []
    if backend == "visdom":  # the other one never reached a server
        http = VisdomHTTP(server.url)
        try:
            windows = json.loads(
                http.post("win_data", {"win": None, "eid": child.envs[backend]})
            )
        finally:
            http.close()
        for trace in windows.get("scalar:loss", {}).get("content", {}).get("data", []):
            steps += [int(x) for x in trace["x"]]
    spooled = pending_records(child.logdir(backend))
    assert all(isinstance(r, Scalar) and r.tag == "loss" for r in spooled)
    return steps + [r.step for r in spooled]


def _steps(child: Child, backend: str, server: servers.Server) -> list[int]:
    if backend.startswith("visdom"):
        return _visdom_steps(child, backend, server)
    return [event.step for event in accumulate(child.logdir(backend)).Scalars("loss")]


def _check_exit(child: Child) -> None:
    assert child.status == EXIT_STATUS[child.how], (
        f"{child.how}: exit status {child.status}\n{child.stderr}"
    )
    assert "failed to" not in child.stderr, f"{child.how}: a backend failed\n{child.stderr}"


def _check_values(child: Child, backend: str, server: servers.Server) -> None:
    steps = _steps(child, backend, server)
    expected = list(range(N))
    if child.how == BUSY:  # it went on logging until the signal: a longer prefix
        expected = list(range(max(N, len(steps))))
    assert sorted(steps) == expected, (
        f"{backend}/{child.how}: {len(steps)} points read back, {len(set(steps))} distinct, "
        f"expected {N}\n{child.stderr[-2000:]}"
    )


@pytest.fixture(scope="module")
def ended_runs(tmp_path_factory, visdom_server) -> dict[str, Child]:
    """Five children (one per ending), all running at once."""
    root = tmp_path_factory.mktemp("exits")
    url = visdom_server.url.rstrip("/")
    children = [_start(how, root / how, url) for how in (*HOWS, BUSY)]
    _finish(children)
    return {child.how: child for child in children}


@pytest.mark.parametrize("how", (*HOWS, BUSY))
def test_the_process_ends_as_it_would_without_vizlog(ended_runs, how):
    _check_exit(ended_runs[how])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("how", (*HOWS, BUSY))
def test_every_value_survives_the_ending(ended_runs, visdom_server, how, backend):
    _check_values(ended_runs[how], backend, visdom_server)


def test_visdom_delivered_everything_while_its_server_was_up(ended_runs):
    for child in ended_runs.values():
        assert pending_records(child.logdir("visdom")) == []


def test_visdom_without_server_spooled_and_says_how_to_replay(ended_runs):
    child = ended_runs["return"]
    assert len(pending_records(child.logdir("visdom-spooled"))) == N
    assert "vizlog replay" in child.stderr


def test_sigkill_loses_nothing_older_than_the_flush_interval(tmp_path, visdom_server):
    """With ``VIZLOG_FLUSH_SECS=1``, everything logged 3 s before a SIGKILL is on disk (or,
    for Visdom, on the server or in the spool)."""
    child = _start("sigkill", tmp_path, visdom_server.url.rstrip("/"),
                   {"VIZLOG_FLUSH_SECS": str(KILL_FLUSH_SECS)})
    _finish([child], signal_after=KILL_AFTER)
    _check_exit(child)
    for backend in BACKENDS:
        _check_values(child, backend, visdom_server)
