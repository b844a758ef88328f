"""The Visdom backend against real Visdom servers on 127.0.0.1.

Everything is logged through ``vizlog.Logger`` (or the backend itself, where a test needs to
see its requests) and read back from the server with ``visdom.Visdom.get_window_data``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
import warnings

import numpy as np
import pytest

pytest.importorskip("visdom")
pytestmark = pytest.mark.filterwarnings(
    "ignore:The 'warn' method is deprecated:DeprecationWarning"  # the visdom client's own
)

import vizlog  # noqa: E402
from vizlog.backends.visdom.backend import VisdomBackend, VisdomUnavailableWarning  # noqa: E402
from vizlog.backends.visdom.http import VisdomUnavailable  # noqa: E402
from vizlog.backends.visdom.spool import Spool, pending_records  # noqa: E402
from vizlog.records import Scalar, Text  # noqa: E402


def _env() -> str:
    return "t" + uuid.uuid4().hex[:10]


def _client(server):
    from visdom import Visdom

    return Visdom(
        server=f"http://{server.host}",
        port=server.port,
        use_incoming_socket=False,
        raise_exceptions=True,
    )


def read_windows(server, env: str) -> dict:
    return json.loads(_client(server).get_window_data(env=env))


def trace(window: dict, name: str) -> dict:
    for t in window["content"]["data"]:
        if t["name"] == name:
            return t
    raise AssertionError(f"no trace {name!r} in {[t['name'] for t in window['content']['data']]}")


def _outage_warnings(caught) -> list[str]:
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, VisdomUnavailableWarning) and "does not answer" in str(w.message)
    ]


# ------------------------------------------------------------------------ every concept


@pytest.fixture(scope="module")
def everything(visdom_server, tmp_path_factory):
    """One run that logs every concept; the tests below read different windows of it."""
    torch = pytest.importorskip("torch")
    env = _env()
    logdir = tmp_path_factory.mktemp("all") / "run"
    rng = np.random.default_rng(0)
    with vizlog.Logger(backend="visdom", logdir=logdir, server=visdom_server.url, env=env) as log:
        for step in range(50):
            log.scalar("loss", 1.0 / (step + 1), step=step)
            log.scalars("acc", {"train": step / 100, "val": step / 200}, step=step)
        log.text("notes", "<script>alert(1)</script>", step=1)
        log.text("notes", "second\nline", step=2)
        log.histogram("weights", rng.normal(size=1000), step=1)
        log.histogram("weights", rng.normal(loc=2.0, size=1000), step=2)
        log.image("picture", np.full((3, 24, 40), 0.5), step=3)
        log.image("batch", rng.random((6, 3, 8, 10)), step=3)
        labels = [str(i // 20) for i in range(60)]
        mat = rng.normal(size=(60, 6)) + np.repeat(np.eye(3, 6) * 10, 20, axis=0)
        log.embedding(mat, metadata=labels, step=4, tag="features")
        y = rng.integers(0, 2, 200)
        log.pr_curve("pr", y, np.clip(y * 0.6 + rng.random(200) * 0.4, 0, 1), step=5)
        log.pr_curve("pr", y, rng.random(200), step=6)
        model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            log.graph(model, torch.zeros(1, 4))
    return read_windows(visdom_server, env), env, logdir


def test_scalar_points_and_values(everything):
    windows, _, _ = everything
    window = windows["scalar:loss"]
    assert window["title"] == "loss"
    points = trace(window, "loss")
    assert points["x"] == list(range(50))
    assert points["y"] == pytest.approx([1.0 / (s + 1) for s in range(50)])


def test_scalars_one_window_named_traces(everything):
    windows, _, _ = everything
    window = windows["scalars:acc"]
    assert window["title"] == "acc"
    assert sorted(t["name"] for t in window["content"]["data"]) == ["train", "val"]
    assert trace(window, "val")["y"][10] == pytest.approx(0.05)
    assert trace(window, "train")["x"] == list(range(50))


def test_text_is_escaped_and_appended(everything):
    windows, _, _ = everything
    content = windows["text:notes"]["content"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "<script>" not in content
    assert content.index("alert") < content.index("second")
    assert windows["text:notes"]["title"] == "notes"


def test_histogram_bars_and_distribution(everything):
    windows, _, _ = everything
    bars = windows["histogram:weights"]
    assert bars["content"]["data"][0]["type"] == "bar"
    assert sum(bars["content"]["data"][0]["y"]) == 1000
    assert "step 2" in bars["title"]
    trend = windows["histogram-trend:weights"]
    median = trace(trend, "median")
    assert median["x"] == [1, 2]
    assert median["y"][0] == pytest.approx(0.0, abs=0.2)
    assert median["y"][1] == pytest.approx(2.0, abs=0.2)
    assert trace(trend, "min")["y"][0] < trace(trend, "max")["y"][0]


def test_images_have_their_size(everything):
    from PIL import Image as PILImage

    windows, _, _ = everything
    sizes = {}
    for tag in ("picture", "batch"):
        content = windows[f"image:{tag}"]["content"]
        png = base64.b64decode(content["src"].split(",", 1)[1])
        sizes[tag] = PILImage.open(io.BytesIO(png)).size
        assert content["caption"] == f"{tag}, step 3"
    assert sizes["picture"] == (4 * 40 + 4, 4 * 24 + 4)  # enlarged 4 times, 2 pixels around
    # six images side by side, enlarged 10 times, with 2 pixels around each
    assert sizes["batch"] == (6 * (10 * 10 + 2) + 2, 10 * 8 + 4)


def test_embedding_points_coloured_by_label(everything):
    windows, _, _ = everything
    data = windows["embedding:features"]["content"]["data"]
    assert sorted(t["name"] for t in data) == ["0", "1", "2"]
    assert sum(len(t["x"]) for t in data) == 60
    centres = {t["name"]: (np.mean(t["x"]), np.mean(t["y"])) for t in data}
    # the three clusters stay apart after projection
    distances = [
        np.hypot(centres[a][0] - centres[b][0], centres[a][1] - centres[b][1])
        for a, b in (("0", "1"), ("1", "2"), ("0", "2"))
    ]
    assert min(distances) > 5


def test_pr_curve_one_line_per_step_ap_in_title(everything):
    windows, _, _ = everything
    window = windows["pr_curve:pr"]
    assert sorted(t["name"] for t in window["content"]["data"]) == ["step 5", "step 6"]
    assert "AP " in window["title"] and "step 6" in window["title"]
    points = trace(window, "step 5")
    assert 100 < len(points["x"]) < 127  # not the thresholds nothing reaches
    assert points["y"][0] <= 1.0 and (points["x"][-1], points["y"][-1]) != (0.0, 0.0)


def test_graph_tree(everything):
    windows, _, _ = everything
    content = windows["graph:graph"]["content"] if "graph:graph" in windows else None
    if content is None:
        (key,) = [k for k in windows if k.startswith("graph:")]
        content = windows[key]["content"]
    assert "Sequential, 23 params" in content and "Linear, 15 params" in content


def test_the_environment_is_saved_at_close(everything, visdom_server):
    _, env, _ = everything
    saved = [p for p in os.listdir(visdom_server_env_path(visdom_server)) if p == env + ".json"]
    assert saved


def visdom_server_env_path(server) -> str:
    argv = server.process.args
    return argv[argv.index("--env-path") + 1]


# ------------------------------------------------------------------------ batching


class CountingHTTP:
    """Counts the requests the backend makes (each still goes to the real server)."""

    def __init__(self, http):
        self.http = http
        self.calls: list[str] = []

    def post(self, endpoint, message, timeout=None):
        self.calls.append(endpoint)
        return self.http.post(endpoint, message, timeout)

    def close(self):
        self.http.close()


def test_many_points_of_a_window_go_in_one_request(visdom_server, tmp_path):
    env = _env()
    backend = VisdomBackend(str(tmp_path), server=visdom_server.url, env=env)
    spy = backend._http = CountingHTTP(backend._http)
    records = []
    for step in range(1000):
        records.append(Scalar("a", step, 0.0, float(step)))
        records.append(Scalar("b", step, 0.0, -float(step)))
        if step % 100 == 0:
            records.append(Text("log", step, 0.0, f"at {step}"))
    backend.write_batch(records)
    backend.flush()  # records may be held up to SEND_INTERVAL to share requests
    calls = list(spy.calls)
    backend.close()
    # one request per window for 2,010 records: the new line windows are sent whole
    assert calls.count("update") == 1 and calls.count("events") == 2
    windows = read_windows(visdom_server, env)
    assert trace(windows["scalar:a"], "a")["x"] == list(range(1000))
    assert trace(windows["scalar:b"], "b")["y"][-1] == -999.0
    assert windows["text:log"]["content"].count("<br>") == 9


# ------------------------------------------------------------------------ outages


def test_server_absent_spool_then_replay(tmp_path, free_port, start_visdom):
    url = f"http://127.0.0.1:{free_port}"
    logdir = tmp_path / "run-absent"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log = vizlog.Logger(backend="visdom", logdir=logdir, server=url)
        started = time.perf_counter()
        for step in range(1000):
            log.scalar("loss", step * 0.5, step=step)
        logged = time.perf_counter() - started
        started = time.perf_counter()
        log.close()
        closing = time.perf_counter() - started
    assert logged < 5.0 and closing < 5.0
    assert len(_outage_warnings(caught)) == 1
    assert any("vizlog replay" in str(w.message) for w in caught)
    spooled = pending_records(logdir)
    assert [r.step for r in spooled] == list(range(1000))

    server = start_visdom(port=free_port)
    result = subprocess.run(
        [sys.executable, "-m", "vizlog", "replay", str(logdir), "--server", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "1000" in result.stdout
    points = trace(read_windows(server, "run-absent")["scalar:loss"], "loss")
    assert points["x"] == list(range(1000))
    assert points["y"] == [s * 0.5 for s in range(1000)]
    assert Spool(logdir).pending == 0 and not os.path.exists(Spool(logdir).path)


def test_replay_without_server_keeps_the_spool(tmp_path, free_port):
    from vizlog.backends.visdom.replay import replay

    spool = Spool(tmp_path)
    spool.append([Scalar("x", 1, 0.0, 1.0)])
    spool.close()
    with pytest.raises(ConnectionError, match="does not answer"):
        replay(tmp_path, server=f"http://127.0.0.1:{free_port}", env="e")
    assert Spool(tmp_path).pending == 1


def _wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    delay = 0.02
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def _saved_points(env_file: str) -> int:
    try:
        with open(env_file, encoding="utf-8") as f:
            jsons = json.load(f)["jsons"]
        return len(trace(jsons["scalar:loss"], "loss")["x"])
    except (OSError, ValueError, KeyError, AssertionError):
        return 0


@pytest.mark.parametrize("save_interval", [0.2, 3600.0], ids=["saved-before-kill", "never-saved"])
def test_server_killed_and_restarted_every_point_once(tmp_path, start_visdom, save_interval):
    """Points delivered but not yet saved are lost by the server: they are sent again."""
    env_path = tmp_path / "env"
    server = start_visdom(env_path=env_path)
    env = _env()
    env_file = str(env_path / f"{env}.json")
    log = vizlog.Logger(
        backend="visdom",
        logdir=tmp_path / "run",
        server=server.url,
        env=env,
        save_interval=save_interval,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in range(300):
            log.scalar("loss", float(step), step=step)
            log.text("events", f"e{step}", step=step) if step % 50 == 0 else None
        log.flush()
        if save_interval < 1:
            _wait_for(lambda: _saved_points(env_file) == 300, what="a periodic save")
        for step in range(300, 500):  # delivered, maybe not saved before the kill
            log.scalar("loss", float(step), step=step)
        log.flush()
        os.killpg(server.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
        for step in range(500, 800):  # the server is gone: these are spooled
            log.scalar("loss", float(step), step=step)
            log.text("events", f"e{step}", step=step) if step % 50 == 0 else None
        log.flush()
        restarted = start_visdom(port=server.port, env_path=env_path)
        for step in range(800, 1000):
            log.scalar("loss", float(step), step=step)
        log.close()
    assert len(_outage_warnings(caught)) == 1
    windows = read_windows(restarted, env)
    points = trace(windows["scalar:loss"], "loss")
    assert points["x"] == list(range(1000))
    assert points["y"] == [float(s) for s in range(1000)]
    texts = windows["text:events"]["content"].split("<br>")
    assert [t.rsplit(": ", 1)[1] for t in texts] == [
        f"e{s}" for s in [*range(0, 300, 50), *range(500, 800, 50)]
    ]
    assert Spool(tmp_path / "run").pending == 0


@pytest.mark.parametrize("endpoint", ["events", "update"])
def test_answer_lost_after_delivery_is_not_sent_twice(visdom_server, tmp_path, endpoint):
    """A request that reached the server but whose answer was lost (timeout, reset): a new
    window goes whole (``/events``); one already on the server gets appends (``/update``)."""
    env = _env()
    first = 0
    if endpoint == "update":  # an earlier run left the window on the server
        earlier = VisdomBackend(str(tmp_path / "earlier"), server=visdom_server.url, env=env)
        earlier.write_batch([Scalar("loss", s, 0.0, float(s)) for s in range(10)])
        earlier.close()
        first = 10
    backend = VisdomBackend(str(tmp_path), server=visdom_server.url, env=env)
    real = backend._http

    class LoseOneAnswer(CountingHTTP):
        lost = False

        def post(self, endpoint_, message, timeout=None):
            answer = super().post(endpoint_, message, timeout)
            if endpoint_ == endpoint and not self.lost:
                self.lost = True
                raise VisdomUnavailable("answer lost")
            return answer

    backend._http = LoseOneAnswer(real)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        backend.write_batch([Scalar("loss", s, 0.0, float(s)) for s in range(first, 100)])
        backend.flush()  # send now rather than after SEND_INTERVAL
        assert backend._http.lost
        assert backend.spool.pending == 100 - first  # not confirmed, so kept
        backend.write_batch([Scalar("loss", s, 0.0, float(s)) for s in range(100, 150)])
        backend.close()  # reconnects, sees the 100 points arrived, sends only the rest
    assert trace(read_windows(visdom_server, env)["scalar:loss"], "loss")["x"] == list(range(150))
    assert backend.spool.pending == 0


def test_hanging_server_never_blocks_logging(tmp_path):
    """A server that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            log = vizlog.Logger(backend="visdom", logdir=tmp_path / "run", server=url, timeout=0.5)
            durations = []
            for step in range(300):
                started = time.perf_counter()
                log.scalar("loss", 1.0, step=step)
                durations.append(time.perf_counter() - started)
            started = time.perf_counter()
            log.close()
            closing = time.perf_counter() - started
    assert max(durations) < 0.5
    assert closing < 5.0
    assert len(pending_records(tmp_path / "run")) == 300


def test_exit_without_close_still_delivers(visdom_server, tmp_path):
    env = _env()
    script = (
        "import vizlog\n"
        f"log = vizlog.Logger(backend='visdom', logdir={str(tmp_path / 'run')!r}, "
        f"server={visdom_server.url!r}, env={env!r})\n"
        "for step in range(100):\n"
        "    log.scalar('loss', float(step), step=step)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert trace(read_windows(visdom_server, env)["scalar:loss"], "loss")["x"] == list(range(100))


# ------------------------------------------------------------------------ persistence


def test_environment_survives_a_server_restart(tmp_path, start_visdom):
    env_path = tmp_path / "env"
    server = start_visdom(env_path=env_path)
    env = _env()
    with vizlog.Logger(
        backend="visdom", logdir=tmp_path / "run", server=server.url, env=env
    ) as log:
        for step in range(20):
            log.scalar("loss", float(step), step=step)
        log.image("picture", np.zeros((3, 4, 5)), step=1)
        log.text("notes", "kept", step=1)
    server.stop()
    again = start_visdom(env_path=env_path)
    windows = read_windows(again, env)
    assert {"scalar:loss", "image:picture", "text:notes"} <= set(windows)
    assert trace(windows["scalar:loss"], "loss")["x"] == list(range(20))


# ------------------------------------------------------------------------ options


def test_env_defaults_to_the_run_name(tmp_path, monkeypatch):
    monkeypatch.delenv("VIZLOG_VISDOM_ENV", raising=False)
    backend = VisdomBackend(str(tmp_path / "my-run"), server="127.0.0.1:1")
    assert backend.env == "my-run" and backend.server == "http://127.0.0.1:1"
    monkeypatch.setenv("VIZLOG_VISDOM_ENV", "from-env")
    monkeypatch.setenv("VIZLOG_VISDOM_SERVER", "http://127.0.0.1:2")
    backend = VisdomBackend(str(tmp_path / "my-run"))
    assert backend.env == "from-env" and backend.server == "http://127.0.0.1:2"


@pytest.mark.parametrize(
    "options, error, argument",
    [
        ({"server": "ftp://x"}, ValueError, "server"),
        ({"server": 8097}, TypeError, "server"),
        ({"env": ""}, ValueError, "env"),
        ({"env": 3}, TypeError, "env"),
        ({"username": "u"}, ValueError, "password"),
        ({"save_interval": 0}, ValueError, "save_interval"),
        ({"timeout": "1"}, TypeError, "timeout"),
        ({"embedding_dims": 4}, ValueError, "embedding_dims"),
    ],
)
def test_bad_options_name_the_argument(tmp_path, monkeypatch, options, error, argument):
    monkeypatch.delenv("VIZLOG_VISDOM_PASSWORD", raising=False)
    with pytest.raises(error, match=argument):
        VisdomBackend(str(tmp_path), **options)


# ------------------------------------------------------------------------ timing


def test_log_scalar_costs_far_less_than_a_visdom_append(visdom_server, tmp_path):
    """The training thread only enqueues; raw ``vis.line(update="append")`` waits for HTTP."""
    env = _env()
    vis = _client(visdom_server)
    raw = []
    for step in range(200):
        started = time.perf_counter()
        vis.line(Y=np.array([1.0]), X=np.array([step]), win="raw", env=env, update="append")
        raw.append(time.perf_counter() - started)
    log = vizlog.Logger(
        backend="visdom", logdir=tmp_path / "run", server=visdom_server.url, env=env
    )
    ours = []
    for step in range(2000):
        started = time.perf_counter()
        log.scalar("loss", 1.0, step=step)
        ours.append(time.perf_counter() - started)
    log.close()
    raw_ms, ours_ms = statistics.median(raw) * 1e3, statistics.median(ours) * 1e3
    print(
        f"\nmedian per call: vis.line(update='append') {raw_ms:.3f} ms, "
        f"log.scalar {ours_ms:.4f} ms ({raw_ms / ours_ms:.0f}x)"
    )
    assert ours_ms * 10 < raw_ms
    points = trace(read_windows(visdom_server, env)["scalar:loss"], "loss")
    assert len(points["x"]) == 2000
