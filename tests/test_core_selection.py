"""Choosing backends: by argument, by VIZLOG_BACKEND, several at once, and the errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from eventfiles import scalars

import vizlog


def test_default_is_tensorboard_and_logdir_from_env(tmp_path, monkeypatch):
    monkeypatch.delenv("VIZLOG_BACKEND", raising=False)
    monkeypatch.setenv("VIZLOG_LOGDIR", str(tmp_path / "run"))
    with vizlog.Logger() as log:
        assert log.backends == ("tensorboard",)
        assert log.logdir == str(tmp_path / "run")
        log.scalar("x", 1.0, 0)
    assert scalars(tmp_path / "run", "x") == [(0, 1.0)]


def test_default_logdir_is_runs_date_host(tmp_path, monkeypatch):
    monkeypatch.delenv("VIZLOG_LOGDIR", raising=False)
    monkeypatch.chdir(tmp_path)
    import socket

    with vizlog.Logger("tensorboardx") as log:
        parent, name = log.logdir.split("/")
        assert parent == "runs" and name.endswith("_" + socket.gethostname())
    assert (tmp_path / log.logdir).is_dir()


def test_backend_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VIZLOG_BACKEND", "tensorboardx, fake")
    with vizlog.Logger(logdir=tmp_path) as log:
        assert log.backends == ("tensorboardx", "fake")


def test_argument_beats_environment(monkeypatch):
    monkeypatch.setenv("VIZLOG_BACKEND", "tensorboard")
    with vizlog.Logger("none") as log:
        assert log.backends == ("none",)
        log.scalar("x", 1.0)  # discarded, no error


def test_fan_out_to_two_writers_and_the_fake(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    with vizlog.Logger(["tensorboard", "fake"], logdir=a) as log1, \
            vizlog.Logger(["tensorboardx", "fake"], logdir=b) as log2:
        for step in range(5):
            log1.scalar("loss", step * 2.0, step)
            log2.scalar("loss", step * 2.0, step)
        fake = log1.get_backend("fake")
    expected = [(s, s * 2.0) for s in range(5)]
    assert scalars(a, "loss") == expected == scalars(b, "loss") == fake.scalars("loss")


def test_fan_out_list_writes_each_backend(tmp_path):
    with vizlog.Logger("tensorboard,tensorboardx", logdir=tmp_path) as log:
        log.scalar("loss", 1.0, 0)
    event_files = sorted(p.name for p in tmp_path.glob("events.out.tfevents.*"))
    assert len(event_files) == 2  # one per writer
    assert scalars(tmp_path, "loss") == [(0, 1.0), (0, 1.0)]


def test_unknown_backend_lists_known_ones():
    with pytest.raises(ValueError, match="unknown backend 'tensorbored'.*fake.*none.*tensorboard"):
        vizlog.Logger("tensorbored")


def test_unknown_backend_from_environment(monkeypatch):
    monkeypatch.setenv("VIZLOG_BACKEND", "wandb")
    with pytest.raises(ValueError, match="unknown backend 'wandb'"):
        vizlog.Logger()


def test_unknown_option_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="unknown option.*flush_sec.*accepted: .*flush_secs"):
        vizlog.Logger("tensorboard", logdir=tmp_path, flush_sec=3)


@pytest.mark.parametrize(
    "backend, package, extra",
    [("tensorboardx", "tensorboardX", "tensorboardx"), ("visdom", "visdom", "visdom"),
     ("tensorboard", "tensorboard", "tensorboard")],
)
def test_missing_package_says_which_extra(tmp_path, monkeypatch, backend, package, extra):
    monkeypatch.setitem(sys.modules, package, None)  # import of it now fails, as if absent
    with pytest.raises(ImportError, match=rf'pip install "vizlog\[{extra}\]"'):
        vizlog.Logger(backend, logdir=tmp_path)
    assert not any(tmp_path.iterdir()), "nothing written"


def test_import_vizlog_imports_no_backend():
    code = (
        "import sys, vizlog; vizlog.VizlogError; "
        "print(sorted(m for m in ('torch', 'tensorboard', 'tensorboardX', 'visdom', 'numpy') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unwritable_logdir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ValueError, match="Logger\\(logdir=...\\): cannot write to"):
        vizlog.Logger("tensorboard", logdir=blocker / "run")


def test_calls_after_close_are_ignored(tmp_path):
    log = vizlog.Logger("tensorboard", logdir=tmp_path)
    log.scalar("x", 1.0, 0)
    log.close()
    log.scalar("x", 2.0, 1)
    log.close()  # twice is fine
    assert scalars(tmp_path, "x") == [(0, 1.0)]


def test_logger_cannot_be_pickled_with_a_clear_message():
    import pickle

    with vizlog.Logger("fake") as log, pytest.raises(TypeError, match="another process"):
        pickle.dumps(log)
