"""The ``vizlog`` command, run as users run it: ``python -m vizlog ...`` in a subprocess."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from vizlog import cli, servers

VIZLOG = [sys.executable, "-m", "vizlog"]


def run_vizlog(*args: str, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VIZLOG, *args], capture_output=True, text=True, timeout=timeout, **kwargs
    )


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid``, from /proc (psutil-free)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: split after its last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def processes_with_arg(needle: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    argv = fh.read().split(b"\0")
            except OSError:
                continue
            if needle.encode() in argv:
                found.append(int(entry))
    return found



def _default_sigint() -> None:
    """A job started in the background inherits SIGINT ignored; Ctrl-C is what is tested."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

class Running:
    """``python -m vizlog serve ...`` in its own session, its output read line by line."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [*VIZLOG, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=_default_sigint,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stdout: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            self.stdout.append(line)
            match = re.search(pattern, line)
            if match:
                return match
        self.kill()
        raise AssertionError(
            f"no line matching {pattern!r}; stdout: {self.stdout}; stderr: {self.stderr()}"
        )

    def stderr(self) -> str:
        if self.process.poll() is None:
            return "(still running)"
        assert self.process.stderr is not None
        return self.process.stderr.read()

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def logdir(tmp_path: Path) -> Path:
    pytest.importorskip("tensorboardX")
    from tensorboardX import SummaryWriter

    with SummaryWriter(str(tmp_path / "logs" / "run")) as writer:
        writer.add_scalar("acc", 0.5, 1)
    return tmp_path / "logs"


# --- help ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["serve", "tensorboard"],
        ["serve", "visdom"],
        ["serve", "all"],
        ["export"],
        ["replay"],
        ["info"],
        ["visdom-assets"],
    ],
)
def test_every_subcommand_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: vizlog")
    if command[:1] == ["serve"] and len(command) == 2:
        assert "127.0.0.1" in out and "0.0.0.0" in out  # the default bind is stated


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from vizlog import cli\n"
        "try:\n"
        "    cli.main(['serve', 'all', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'torch', 'tensorboard', 'tensorboardX', 'visdom', 'pandas'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "[]"


def test_no_subcommand_is_a_usage_error() -> None:
    result = run_vizlog()
    assert result.returncode == 2
    assert "required" in result.stderr and "usage: vizlog" in result.stderr


# --- serve --------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_tensorboard_stops_cleanly(logdir: Path, sig: int) -> None:
    serving = Running("serve", "tensorboard", "--logdir", str(logdir), "--port", "0")
    try:
        url = serving.wait_for(r"tensorboard is running at (\S+)").group(1)
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "data/runs", timeout=10) as answer:
            assert answer.status == 200
        children = children_of(serving.process.pid)
        assert children, "the server should be a child process of the command"
        serving.process.send_signal(sig)
        assert serving.process.wait(timeout=30) == 0
        stderr = serving.stderr()
        assert "stopping tensorboard" in stderr and "stopped" in stderr
        assert "Traceback" not in stderr
        assert not [pid for pid in children if alive(pid)]
    finally:
        serving.kill()


def test_serve_all_starts_both_and_stops_both(tmp_path: Path, logdir: Path) -> None:
    pytest.importorskip("visdom")
    serving = Running(
        "serve",
        "all",
        "--logdir",
        str(logdir),
        "--env-path",
        str(tmp_path / "env"),
        "--tensorboard-port",
        "0",
        "--visdom-port",
        "0",
    )
    try:
        tb_url = serving.wait_for(r"tensorboard is running at (\S+)").group(1)
        visdom_url = serving.wait_for(r"visdom is running at (\S+)").group(1)
        for url in (tb_url, visdom_url):
            port = int(url.rstrip("/").rsplit(":", 1)[1])
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
        children = children_of(serving.process.pid)
        assert len(children) == 2
        serving.process.send_signal(signal.SIGINT)
        assert serving.process.wait(timeout=30) == 0
        assert not [pid for pid in children if alive(pid)]
    finally:
        serving.kill()


def test_serve_port_in_use_names_the_port(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_vizlog("serve", "tensorboard", "--logdir", str(tmp_path), "--port", str(port))
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "--port 0" in result.stderr  # says how to get a free one
    assert "Traceback" not in result.stderr
    assert processes_with_arg(str(port)) == []


def test_serve_that_never_comes_up_reports_and_cleans_up(tmp_path: Path, free_port: int) -> None:
    result = run_vizlog(
        "serve", "tensorboard", "--logdir", str(tmp_path), "--port", str(free_port),
        "--timeout", "0.05",
    )  # fmt: skip
    assert result.returncode == 1
    assert "did not answer HTTP within 0.05 s" in result.stderr
    assert "its last output" in result.stderr
    assert "Traceback" not in result.stderr
    assert processes_with_arg(str(free_port)) == []


def test_serve_visdom_says_once_when_assets_are_missing(tmp_path: Path) -> None:
    pytest.importorskip("visdom")
    from vizlog.servers import visdom_assets

    with servers.serve("visdom", port=0, env_path=tmp_path) as server:
        for _ in range(2):  # the page, twice: each render would log every missing file
            try:
                urllib.request.urlopen(server.url, timeout=10).close()
            except urllib.error.HTTPError:
                pass
        # The child logs after answering; stop it so that all of its output has been read.
        server.stop()
        output = server.output()
    expected = 1 if visdom_assets.missing_assets() else 0
    assert output.count("web assets are missing") == expected
    assert output.count("Could not open static file") == 0
    if expected:
        assert visdom_assets.FETCH_COMMAND in output


# --- info, replay -------------------------------------------------------------------------


def test_info_shows_backends_environment_and_destination(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        VIZLOG_BACKEND="tensorboard,visdom",
        VIZLOG_LOGDIR=str(tmp_path / "myrun"),
        VIZLOG_VISDOM_SERVER="http://127.0.0.1:9999",
        VIZLOG_VISDOM_PASSWORD="s3cret-value",
    )
    result = run_vizlog("info", env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    from importlib.metadata import version

    assert f"tensorboardX {version('tensorboardX')}" in out
    assert f"torch {version('torch')}" in out
    assert "VIZLOG_BACKEND = 'tensorboard,visdom'" in out
    assert str(tmp_path / "myrun") in out
    assert "http://127.0.0.1:9999" in out
    assert "s3cret-value" not in out


def test_replay_of_a_missing_logdir_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("vizlog.backends.visdom.spool")
    result = run_vizlog("replay", str(tmp_path / "nothing-here"), "--server", "http://127.0.0.1:1")
    assert result.returncode == 1
    assert "nothing-here" in result.stderr
    assert "Traceback" not in result.stderr


def test_replay_delivers_a_spool_to_a_visdom_server(
    tmp_path: Path, visdom_server: servers.Server
) -> None:
    visdom = pytest.importorskip("visdom")
    from vizlog.backends.visdom.spool import Spool
    from vizlog.records import Scalar

    spool = Spool(tmp_path)
    spool.set_meta(server="http://127.0.0.1:1", env="unreachable")  # where the run logged
    spool.append([Scalar("loss", step, 1000.0 + step, 0.5**step) for step in range(4)])
    spool.close()

    env = "test_cli_replay"
    result = run_vizlog("replay", str(tmp_path), "--server", visdom_server.url, "--env", env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"replayed 4 record(s) from {tmp_path}"

    client = visdom.Visdom(
        server="http://127.0.0.1", port=visdom_server.port, use_incoming_socket=False
    )
    windows = json.loads(client.get_window_data(env=env))
    traces = [trace for win in windows.values() for trace in _window(win)["content"]["data"]]
    assert [trace["y"] for trace in traces] == [[1.0, 0.5, 0.25, 0.125]]


def _window(win: str | dict) -> dict:
    return json.loads(win) if isinstance(win, str) else win
