"""Real TensorBoard and Visdom servers, started and stopped through ``vizlog.servers``."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from vizlog import servers


def _get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _poll(fetch, deadline_s: float = 30.0):
    """Call ``fetch`` until it returns something truthy or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while True:
        result = fetch()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def listening_addresses(port: int) -> set[str]:
    """Local addresses of LISTEN sockets on ``port``, read from /proc/net/tcp{,6}."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        if not os.path.exists(table):
            continue
        with open(table) as fh:
            next(fh)
            for line in fh:
                fields = line.split()
                address, port_hex = fields[1].split(":")
                if fields[3] == "0A" and int(port_hex, 16) == port:
                    if width == 8:
                        found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
                    else:
                        raw = b"".join(
                            bytes.fromhex(address[i : i + 8])[::-1] for i in range(0, 32, 8)
                        )
                        found.add(socket.inet_ntop(socket.AF_INET6, raw))
    return found


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def vizlog_logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A logdir written by vizlog's TensorBoard backend: ``scalar`` and ``scalars``."""
    pytest.importorskip("torch")
    import vizlog

    logdir = tmp_path_factory.mktemp("tb-logs")
    with vizlog.Logger(backend="tensorboard", logdir=logdir / "run-a") as log:
        for step in range(5):
            log.scalar("loss", 1.0 / (step + 1), step=step)
            log.scalars("lr", {"enc": 0.1 * step, "dec": 0.2 * step}, step=step)
    return logdir


def test_tensorboard_serves_the_logged_scalars(vizlog_logdir: Path) -> None:
    with servers.serve("tensorboard", logdir=vizlog_logdir, port=0) as server:
        assert server.url == f"http://127.0.0.1:{server.port}/"

        def fetch(run: str, tag: str):
            url = f"{server.url}data/plugin/scalars/scalars?run={run}&tag={tag}"
            try:
                return _get_json(url)
            except urllib.error.HTTPError:
                return None  # not loaded yet

        for run, tag, value in [
            ("run-a", "loss", lambda step: 1.0 / (step + 1)),
            ("run-a/enc", "lr", lambda step: 0.1 * step),
            ("run-a/dec", "lr", lambda step: 0.2 * step),
        ]:
            rows = _poll(lambda run=run, tag=tag: fetch(run, tag))
            assert rows, f"TensorBoard never served {run} {tag}; output:\n{server.output()}"
            assert [(step, v) for _, step, v in rows] == [
                (step, pytest.approx(value(step))) for step in range(5)
            ]
        # The landing page (TIME SERIES) and SCALARS draw one card per tag, one line per run:
        # ``scalars("lr", {"enc", "dec"})`` is one card ``lr`` with lines named after the keys.
        for plugin in ("timeseries", "scalars"):
            tags = _get_json(f"{server.url}data/plugin/{plugin}/tags")
            per_run = tags["scalars"]["runTagInfo"] if plugin == "timeseries" else tags
            cards = {tag: sorted(run for run in per_run if tag in per_run[run])
                     for tag in {t for run_tags in per_run.values() for t in run_tags}}
            assert cards == {"loss": ["run-a"], "lr": ["run-a/dec", "run-a/enc"]}, plugin
    assert not server.running()
    assert not group_alive(server.pid)


def test_binds_loopback_by_default(vizlog_logdir: Path) -> None:
    with servers.serve("tensorboard", logdir=vizlog_logdir, port=0) as server:
        assert server.host == "127.0.0.1"
        assert listening_addresses(server.port) == {"127.0.0.1"}


def test_visdom_binds_loopback_by_default(visdom_server: servers.Server) -> None:
    assert visdom_server.host == "127.0.0.1"
    assert listening_addresses(visdom_server.port) == {"127.0.0.1"}


def test_visdom_client_logs_and_reads_back(visdom_server: servers.Server) -> None:
    visdom = pytest.importorskip("visdom")
    client = visdom.Visdom(
        server="http://127.0.0.1",
        port=visdom_server.port,
        env="test_servers_readback",
        use_incoming_socket=False,
        raise_exceptions=True,
    )
    assert client.check_connection(timeout_seconds=5)
    client.line(X=[0, 1, 2], Y=[0.5, 0.25, 0.125], win="loss")
    data = json.loads(client.get_window_data("loss", env="test_servers_readback"))
    assert data["content"]["data"][0]["y"] == [0.5, 0.25, 0.125]


def test_visdom_starts_without_internet(start_visdom, tmp_path: Path) -> None:
    """Every proxy points at a closed local port: any download attempt would fail."""
    dead = f"http://127.0.0.1:{servers.free_port()}"
    env = dict(os.environ, http_proxy=dead, https_proxy=dead, HTTP_PROXY=dead, HTTPS_PROXY=dead)
    env.pop("no_proxy", None)
    env.pop("NO_PROXY", None)
    with servers.serve("visdom", port=0, env_path=tmp_path / "env", env=env) as server:
        with urllib.request.urlopen(server.url + "env/main", data=b"{}", timeout=10) as answer:
            assert answer.status == 200
        assert server.running()


def test_visdom_restarts_on_the_same_port(start_visdom, tmp_path: Path) -> None:
    first = start_visdom(env_path=tmp_path / "env")
    port = first.port
    first.stop()
    assert not first.running()
    second = start_visdom(port=port, env_path=tmp_path / "env")
    assert second.port == port and second.running()


def test_port_in_use_names_the_port(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(servers.PortInUseError, match=f"port {port} on 127.0.0.1"):
            servers.serve("tensorboard", logdir=tmp_path, port=port)
        with pytest.raises(servers.PortInUseError, match=f"port {port}"):
            servers.serve("visdom", env_path=tmp_path, port=port)


def test_server_that_never_answers_is_stopped_with_its_output(tmp_path: Path) -> None:
    with pytest.raises(servers.ServerError, match="did not answer HTTP within") as info:
        servers.serve("tensorboard", logdir=tmp_path, port=0, timeout=0.05)
    server = info.value.server
    assert server is not None
    assert not server.running()
    assert not group_alive(server.pid)


def test_server_that_exits_reports_its_last_output(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with pytest.raises(servers.ServerError, match="exited with code") as info:
        servers.serve("visdom", port=0, env_path=not_a_dir / "env")
    assert "Error" in str(info.value)  # the child's traceback is quoted
    assert not group_alive(info.value.server.pid)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"kind": "jupyter"}, ValueError, "kind"),
        ({"kind": "visdom", "port": "8097"}, TypeError, "port"),
        ({"kind": "visdom", "port": 70000}, ValueError, "port"),
        ({"kind": "visdom", "host": None}, TypeError, "host"),
        ({"kind": "visdom", "timeout": 0}, ValueError, "timeout"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, error, match) -> None:
    kind = kwargs.pop("kind")
    with pytest.raises(error, match=match):
        servers.serve(kind, **kwargs)


# --- Visdom web assets ----------------------------------------------------------------------


def _npm_tarball(files: dict[str, bytes]) -> bytes:
    """A tarball shaped like the npm registry's: everything under ``package/``."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def local_registry():
    """A real HTTP server on 127.0.0.1 serving npm-style tarball URLs."""
    import http.server

    tarballs: dict[str, bytes] = {}
    requested: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            body = tarballs.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"not found")

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", tarballs, requested
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_assets_are_fetched_from_the_registry_into_place(local_registry, tmp_path: Path) -> None:
    from vizlog.servers import visdom_assets

    registry, tarballs, requested = local_registry
    package = visdom_assets.Package(
        "demo-lib", "1.2.3", (("dist/demo.min.js", "js/demo.js"), ("css/x.css", "css/demo.css"))
    )
    tarball = _npm_tarball(
        {"dist/demo.min.js": b"var demo;", "css/x.css": b"body{}", "README.md": b"unused"}
    )
    tarballs["/demo-lib/-/demo-lib-1.2.3.tgz"] = tarball
    pinned = {"demo-lib@1.2.3": _sri(tarball)}
    assert visdom_assets.missing_assets(str(tmp_path), (package,)) == ["js/demo.js", "css/demo.css"]
    messages: list[str] = []
    written = visdom_assets.fetch_assets(
        str(tmp_path), registry=registry, use_npm=False, packages=(package,),
        progress=messages.append, integrity=pinned,
    )  # fmt: skip
    assert written == ["js/demo.js", "css/demo.css"]
    assert (tmp_path / "js/demo.js").read_bytes() == b"var demo;"
    assert (tmp_path / "css/demo.css").read_bytes() == b"body{}"
    assert messages == ["[1/1] demo-lib@1.2.3"]
    assert visdom_assets.missing_assets(str(tmp_path), (package,)) == []
    # Present files are not fetched again.
    assert (
        visdom_assets.fetch_assets(
            str(tmp_path), registry=registry, use_npm=False, packages=(package,)
        )
        == []
    )
    assert requested == ["/demo-lib/-/demo-lib-1.2.3.tgz"]


def test_asset_fetch_errors_name_the_package(local_registry, tmp_path: Path) -> None:
    from vizlog.servers import visdom_assets

    registry, tarballs, _ = local_registry
    absent = visdom_assets.Package("absent", "0.1.0", (("a.js", "js/a.js"),))
    with pytest.raises(OSError, match="absent@0.1.0"):
        visdom_assets.fetch_assets(
            str(tmp_path), registry=registry, use_npm=False, packages=(absent,)
        )
    tarballs["/partial/-/partial-1.0.0.tgz"] = _npm_tarball({"other.js": b""})
    partial = visdom_assets.Package("partial", "1.0.0", (("a.js", "js/a.js"),))
    with pytest.raises(OSError, match="partial@1.0.0 has no file 'a.js'"):
        visdom_assets.fetch_assets(
            str(tmp_path), registry=registry, use_npm=False, packages=(partial,),
            integrity={"partial@1.0.0": _sri(tarballs["/partial/-/partial-1.0.0.tgz"])},
        )


def _sri(data: bytes) -> str:
    import base64
    import hashlib

    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def test_a_tampered_tarball_is_refused_and_nothing_installed(local_registry, tmp_path) -> None:
    from vizlog.servers import visdom_assets

    registry, tarballs, _ = local_registry
    package = visdom_assets.Package("jquery", "3.1.1", (("dist/jquery.min.js", "js/jq.js"),))
    tarballs["/jquery/-/jquery-3.1.1.tgz"] = _npm_tarball({"dist/jquery.min.js": b"evil()"})
    with pytest.raises(visdom_assets.IntegrityError, match="jquery@3.1.1"):
        visdom_assets.fetch_assets(str(tmp_path), registry=registry, use_npm=False,
                                   packages=(package,))
    assert not (tmp_path / "js" / "jq.js").exists()
    assert set(visdom_assets.INTEGRITY) == {p.spec for p in visdom_assets.PACKAGES}


def test_asset_list_covers_every_file_visdoms_page_loads() -> None:
    """Checked against the installed Visdom's own page template."""
    import re

    pytest.importorskip("visdom")
    from vizlog.servers import visdom_assets

    static = Path(visdom_assets.static_dir())
    wanted = set(
        re.findall(r"static_url\(['\"]([^'\"]+)['\"]\)", (static / "index.html").read_text())
    )
    shipped = {"js/main.js", "css/style.css", "css/network.css", "../user/style.css"}  # in visdom
    provided = {dest for package in visdom_assets.PACKAGES for _, dest in package.files}
    assert wanted - shipped <= provided
    assert "js/plotly-plotly.min.js" in wanted - shipped  # the check is not vacuous
