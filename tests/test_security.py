"""Tags cannot escape the logdir, Visdom text is data, servers stay on loopback, Visdom login
works, and no subprocess goes through a shell."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import uuid
import warnings
from pathlib import Path

import numpy as np
import pytest
from eventfiles import accumulate

import vizlog
from vizlog import servers

PACKAGE = Path(vizlog.__file__).parent
HOSTILE_TAGS = ["../../outside", "../../../../../../tmp/escape", "..", ".", "a/../../b",
                "/absolute/tag", "..\\..\\win", "~/home", "%2e%2e/encoded"]


def _files_outside(root: Path, logdir: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and logdir not in p.parents]


@pytest.mark.parametrize("backend", ["tensorboard", "tensorboardx"])
def test_hostile_tags_stay_inside_the_logdir(tmp_path, backend):
    logdir = tmp_path / "a" / "b" / "run"
    absolute = tmp_path / f"abs-{uuid.uuid4().hex}"
    tags = [*HOSTILE_TAGS, str(absolute), str(absolute / "deeper")]
    with vizlog.Logger(backend, logdir=logdir) as log:
        for step, tag in enumerate(tags):
            log.embedding(np.eye(3, 2), metadata=["x", "y", "z"], tag=tag, step=step,
                          label_img=np.zeros((3, 1, 4, 4)))
            log.scalars(tag, {tag: 1.0, "ok": 2.0}, step)
            log.scalar(tag, 1.0, step)
            log.text(tag, "note", step)
            log.image(tag, np.zeros((3, 4, 4)), step, dataformats="CHW")
            log.histogram(tag, [1.0, 2.0], step)
    assert _files_outside(tmp_path, logdir) == []
    assert not absolute.exists()
    # everything went where it should: one projector entry per tag, readable tags
    config = (logdir / "projector_config.pbtxt").read_text()
    assert config.count("embeddings {") == len(tags)
    for tensors in logdir.rglob("tensors.tsv"):
        assert logdir in tensors.parents and tensors.parent.parent.parent == logdir
    written = set(accumulate(logdir).Tags()["scalars"])
    if backend == "tensorboard":  # tensorboardX rewrites characters it dislikes in tags
        assert set(tags) <= written
    assert len(written) >= len(tags)


def test_visdom_spool_of_hostile_tags_stays_inside_the_logdir(tmp_path):
    logdir = tmp_path / "a" / "run"
    dead = f"http://127.0.0.1:{servers.free_port()}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with vizlog.Logger("visdom", logdir=logdir, server=dead, env="../../x") as log:
            for tag in HOSTILE_TAGS:
                log.text(tag, "note", 0)
                log.embedding(np.eye(3, 2), tag=tag)
    assert _files_outside(tmp_path, logdir) == []
    assert (logdir / "visdom-spool.jsonl").exists()


def test_text_sent_to_visdom_is_escaped(visdom_server, tmp_path):
    from vizlog.backends.visdom.http import VisdomHTTP

    env = "sec-" + uuid.uuid4().hex[:8]
    hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>&amp;'
    with vizlog.Logger("visdom", logdir=tmp_path, server=visdom_server.url, env=env) as log:
        log.text("<b>tag</b>", hostile, 0)
    http = VisdomHTTP(visdom_server.url)
    try:
        windows = json.loads(http.post("win_data", {"win": None, "eid": env}))
    finally:
        http.close()
    (content,) = [w["content"] for w in windows.values() if w["type"] == "text"]
    assert "<img" not in content and "<script" not in content and "<b>tag" not in content
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in content
    assert "&amp;amp;" in content  # an entity in the text is shown as typed


# ------------------------------------------------------------------------------ servers


def test_servers_default_to_loopback():
    import inspect

    assert inspect.signature(servers.serve).parameters["host"].default == "127.0.0.1"
    for kind in ("tensorboard", "visdom"):
        argv = servers.command(kind, port=1234, logdir="runs")
        assert argv[argv.index("--host") + 1] == "127.0.0.1"
    from vizlog import cli

    parser = cli.build_parser() if hasattr(cli, "build_parser") else None
    if parser is not None:
        for command in (["serve", "tensorboard"], ["serve", "visdom"]):
            assert parser.parse_args(command).host == "127.0.0.1"


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _name(func: ast.expr) -> str:
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return ".".join(reversed(parts))


def test_no_subprocess_is_started_through_a_shell():
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 10
    offenders = []
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for call in _calls(tree):
            name = _name(call.func)
            if name in ("os.system", "os.popen", "system", "popen", "subprocess.getoutput",
                        "subprocess.getstatusoutput", "os.execlp", "os.spawnlp"):
                offenders.append(f"{path.name}:{call.lineno} {name}")
            for keyword in call.keywords:
                if keyword.arg == "shell" and not (
                    isinstance(keyword.value, ast.Constant) and keyword.value.value is False
                ):
                    offenders.append(f"{path.name}:{call.lineno} shell=")
            if name.endswith(("Popen", "run", "call", "check_call", "check_output")) and \
                    name.startswith("subprocess") and call.args and \
                    isinstance(call.args[0], ast.Constant | ast.JoinedStr):
                offenders.append(f"{path.name}:{call.lineno} command as one string")
    assert offenders == []


# ------------------------------------------------------------------------------ Visdom login


@pytest.fixture
def login_server(tmp_path, free_port):
    """A Visdom server that requires user ``trainer`` / password ``s3cret``."""
    pytest.importorskip("visdom")
    home = tmp_path / "home"
    home.mkdir()
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("visdom_login_server.py")),
         str(free_port), str(tmp_path / "envs"), "trainer", "s3cret"],
        env=dict(os.environ, HOME=str(home)), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        line = process.stdout.readline()  # "ready", or EOF if it died
        assert line.strip() == "ready", line + process.stdout.read()
        yield f"http://127.0.0.1:{free_port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def _delivered(url: str, env: str, username: str, password: str) -> dict:
    from vizlog.backends.visdom.http import VisdomHTTP

    http = VisdomHTTP(url, username, password)
    try:
        return json.loads(http.post("win_data", {"win": None, "eid": env}))
    finally:
        http.close()


def test_visdom_login_from_the_environment(login_server, tmp_path, monkeypatch):
    monkeypatch.setenv("VIZLOG_VISDOM_USERNAME", "trainer")
    monkeypatch.setenv("VIZLOG_VISDOM_PASSWORD", "s3cret")
    env = "login-" + uuid.uuid4().hex[:8]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no outage, no spool
        with vizlog.Logger("visdom", logdir=tmp_path, server=login_server, env=env) as log:
            for step in range(5):
                log.scalar("loss", float(step), step)
    windows = _delivered(login_server, env, "trainer", "s3cret")
    (trace,) = windows["scalar:loss"]["content"]["data"]
    assert trace["x"] == [0, 1, 2, 3, 4]
    assert not (tmp_path / "visdom-spool.jsonl").exists()


@pytest.mark.parametrize("password, hint", [("wrong", "login as 'trainer' refused"),
                                            (None, "VIZLOG_VISDOM_USERNAME")])
def test_visdom_refused_login_spools_and_says_why(login_server, tmp_path, monkeypatch,
                                                  password, hint):
    from vizlog.backends.visdom.backend import VisdomUnavailableWarning
    from vizlog.backends.visdom.spool import pending_records

    monkeypatch.delenv("VIZLOG_VISDOM_USERNAME", raising=False)
    monkeypatch.delenv("VIZLOG_VISDOM_PASSWORD", raising=False)
    credentials = {} if password is None else {"username": "trainer", "password": password}
    with pytest.warns(VisdomUnavailableWarning) as caught:
        with vizlog.Logger("visdom", logdir=tmp_path, server=login_server, env="refused",
                           **credentials) as log:
            log.scalar("loss", 1.0, 0)
    assert any(hint in str(w.message) for w in caught), [str(w.message) for w in caught]
    assert [r.value for r in pending_records(tmp_path)] == [1.0]
