"""Start, check and stop TensorBoard and Visdom servers as child processes.

Each server runs in its own process group, so that stopping it also stops whatever it
spawned, and so that a Ctrl-C in a terminal reaches only the parent, which then stops the
children in order (SIGTERM, a grace period, then SIGKILL).  A server counts as ready once it
answers HTTP at all: Visdom without its web assets answers ``/`` with 403 while its API works.

Visdom is not started through ``python -m visdom.server``, which downloads its web assets from
CDNs at every start and dies without internet; the child runs ``vizlog.servers.visdom_app``
instead, which starts the same tornado application without any download.
"""

from __future__ import annotations

import atexit
import collections
import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import IO

from vizlog import logdirs

SERVER_KINDS = ("tensorboard", "visdom")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORTS = {"tensorboard": 6006, "visdom": 8097}
DEFAULT_START_TIMEOUT = 60.0
DEFAULT_STOP_TIMEOUT = 10.0
_OUTPUT_LINES = 40
#: What the readiness check asks for: cheap, quiet pages (Visdom's index logs an error per
#: missing asset, and answers HEAD with a logged 405).
_READY_PATH = {"tensorboard": "", "visdom": "user/style.css"}

_running: set[Server] = set()
_running_lock = threading.Lock()


class ServerError(RuntimeError):
    """A server could not be started: it exited, or did not answer in time.

    ``server`` is the (stopped) Server, when a child process had been started.
    """

    server: Server | None = None


class PortInUseError(ServerError):
    """The requested port is taken by another process."""

    def __init__(self, host: str, port: int, kind: str) -> None:
        self.host, self.port, self.kind = host, port, kind
        super().__init__(
            f"cannot start {kind}: port {port} on {host} is already in use; "
            "pick another port (--port N), or --port 0 for any free port"
        )


def free_port(host: str = DEFAULT_HOST) -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    """Whether binding ``host:port`` fails because someone else holds it.

    SO_REUSEADDR is set as the servers set it, so a port left in TIME_WAIT by an earlier
    server does not count as taken.
    """
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def url_host(host: str) -> str:
    """The host part of a URL a browser on this machine can open."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class Server:
    """A running server child process; a context manager that stops it on exit.

    ``output()`` returns the server's last lines of output (stdout and stderr together),
    which is what error messages quote when the server dies or never answers.
    """

    def __init__(
        self,
        kind: str,
        host: str,
        port: int,
        process: subprocess.Popen[bytes],
        echo: IO[str] | None = None,
    ) -> None:
        self.kind = kind
        self.host = host
        self.port = port
        self.process = process
        self.url = f"http://{url_host(host)}:{port}/"
        self._echo = echo
        self._lines: collections.deque[str] = collections.deque(maxlen=_OUTPUT_LINES)
        self._reader = threading.Thread(
            target=self._read_output, name=f"vizlog-{kind}-output", daemon=True
        )
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read_output(self) -> None:
        stream = self.process.stdout
        if stream is None:
            return
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self._lines.append(line)
            if self._echo is not None:
                try:
                    print(f"[{self.kind}] {line}", file=self._echo, flush=True)
                except (OSError, ValueError):
                    self._echo = None
        stream.close()

    def output(self) -> str:
        """The last lines the server printed."""
        return "\n".join(self._lines)

    def running(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout: float = DEFAULT_START_TIMEOUT) -> None:
        """Block until the server answers HTTP; raise ServerError (and stop it) otherwise."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            if not self.running():
                self._reader.join(timeout=2)
                code = self.process.returncode
                self.stop()
                raise self._failure(f"exited with code {code} before answering")
            if _answers_http(self.url + _READY_PATH[self.kind]):
                return
            if time.monotonic() >= deadline:
                self._reader.join(timeout=0.2)
                self.stop()
                raise self._failure(f"did not answer HTTP within {timeout:g} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def _failure(self, what: str) -> ServerError:
        text = self.output().strip() or "(no output)"
        error: ServerError
        if "Address already in use" in text or "could not bind to port" in text:
            error = PortInUseError(self.host, self.port, self.kind)  # lost a race for the port
        else:
            error = ServerError(
                f"{self.kind} server at {self.url} {what}; its last output:\n{text}"
            )
        error.server = self
        return error

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> int | None:
        """Stop the server and everything it started: SIGTERM, then SIGKILL after ``timeout``.

        Returns the exit code (None if it could not be reaped).  Safe to call twice.
        """
        pgid = self.process.pid  # the child leads its own process group
        _signal_group(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(pgid, signal.SIGKILL)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # Whatever the server started may outlive it in the group: give it the same grace.
        deadline = time.monotonic() + timeout
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)
        self._reader.join(timeout=2)
        with _running_lock:
            _running.discard(self)
        return self.process.returncode

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running() else f"exited {self.process.returncode}"
        return f"<vizlog Server {self.kind} {self.url} pid={self.pid} {state}>"


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _answers_http(url: str) -> bool:
    """Any HTTP answer, even an error status, means the server is up."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            response.read(0)
        return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


def command(
    kind: str,
    *,
    host: str = DEFAULT_HOST,
    port: int,
    logdir: str | None = None,
    env_path: str | None = None,
) -> list[str]:
    """The child's argv (no shell), for ``kind`` bound to ``host:port``.

    TensorBoard runs with ``--load_fast=false``: the pure-Python loader needs no second
    process (the Rust data server is a grandchild to reap) and started faster here.
    """
    if kind == "tensorboard":
        if logdir is None:
            raise ValueError("serve('tensorboard'): logdir= is required")
        return [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            os.fspath(logdir),
            "--host",
            host,
            "--port",
            str(port),
            "--load_fast",
            "false",
        ]
    if kind == "visdom":
        argv = [
            sys.executable,
            "-m",
            "vizlog.servers.visdom_app",
            "--host",
            host,
            "--port",
            str(port),
        ]
        if env_path is not None:
            argv += ["--env-path", os.fspath(env_path)]
        return argv
    raise ValueError(f"serve(kind=...): unknown server {kind!r}; known: {', '.join(SERVER_KINDS)}")


def serve(
    kind: str,
    *,
    logdir: str | os.PathLike[str] | None = None,
    port: int | None = None,
    host: str = DEFAULT_HOST,
    env_path: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_START_TIMEOUT,
    echo: IO[str] | None = None,
    env: dict[str, str] | None = None,
    storage_options: dict[str, object] | None = None,
) -> Server:
    """Start a TensorBoard or Visdom server and return it once it answers HTTP.

    TensorBoard's ``logdir`` may be a URL (``s3://bucket/runs``): the child gets what it needs
    to read it (for S3 the endpoint as ``S3_ENDPOINT``) from the standard configuration or
    ``storage_options``, as a Logger writing there does.

    ``port=None`` takes the server's usual port (6006, 8097), ``port=0`` any free one.  The
    server listens on 127.0.0.1 unless ``host`` says otherwise.  Use it as a context manager
    (``with serve(...) as server:``) or call ``server.stop()``; servers still running when
    Python exits are stopped then.
    """
    if not isinstance(kind, str) or kind not in SERVER_KINDS:
        raise ValueError(
            f"serve(kind=...): unknown server {kind!r}; known: {', '.join(SERVER_KINDS)}"
        )
    if not isinstance(host, str) or not host:
        raise TypeError(f"serve(host=...): expected a host name or address, got {host!r}")
    if port is None:
        port = DEFAULT_PORTS[kind]
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"serve(port=...): expected an int, got {type(port).__name__}")
    if not 0 <= port <= 65535:
        raise ValueError(f"serve(port=...): expected 0..65535, got {port}")
    if timeout <= 0:
        raise ValueError(f"serve(timeout=...): expected a positive number, got {timeout}")
    if kind == "tensorboard":
        if logdir is None:
            from vizlog import config

            logdir = config.env("VIZLOG_LOGDIR") or "runs"
        logdir = logdirs.normalise(os.fspath(logdir))
    if port == 0:
        port = free_port(host)
    elif port_in_use(host, port):
        raise PortInUseError(host, port, kind)

    argv = command(kind, host=host, port=port,
                   logdir=None if logdir is None else os.fspath(logdir),
                   env_path=None if env_path is None else os.fspath(env_path))
    child_env = dict(os.environ if env is None else env)
    if kind == "tensorboard" and logdir is not None:
        child_env.update(logdirs.tensorboard_env(os.fspath(logdir), storage_options, child_env))
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=child_env,
    )
    server = Server(kind, host, port, process, echo=echo)
    with _running_lock:
        _running.add(server)
    try:
        server.wait_ready(timeout)
    except BaseException:
        server.stop()
        raise
    return server


@atexit.register
def _stop_all() -> None:
    with _running_lock:
        servers = list(_running)
    for server in servers:
        server.stop(timeout=3)
