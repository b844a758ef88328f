"""Shared fixtures: free ports and real Visdom servers on 127.0.0.1.

Every server is started through ``vizlog.servers.serve`` (the code users run) and stopped,
with everything it started, when its fixture ends.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vizlog import servers


@pytest.fixture
def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    return servers.free_port()


@pytest.fixture(scope="session")
def visdom_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Server]:
    """One Visdom server for the whole test session; use a unique env name per test."""
    pytest.importorskip("visdom")
    env_path = tmp_path_factory.mktemp("visdom-env")
    with servers.serve("visdom", port=0, env_path=env_path) as server:
        yield server


StartVisdom = Callable[..., servers.Server]


@pytest.fixture
def start_visdom(tmp_path: Path) -> Iterator[StartVisdom]:
    """Start (or restart) Visdom servers; all of them are stopped when the test ends.

    ``start_visdom(port=None, env_path=None, timeout=60)``: ``port=None`` picks a free port,
    ``env_path=None`` uses ``<tmp_path>/visdom-env``.  To simulate an outage, call
    ``server.stop()`` and later ``start_visdom(port=server.port, env_path=...)`` again.
    """
    pytest.importorskip("visdom")
    started: list[servers.Server] = []

    def start(
        port: int | None = None,
        env_path: str | os.PathLike[str] | None = None,
        timeout: float = servers.DEFAULT_START_TIMEOUT,
    ) -> servers.Server:
        server = servers.serve(
            "visdom",
            port=0 if port is None else port,
            env_path=tmp_path / "visdom-env" if env_path is None else env_path,
            timeout=timeout,
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
