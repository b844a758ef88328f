"""The pytest fixture used as a user would, and the SummaryWriter drop-in."""

from __future__ import annotations

import numpy as np
import torch
from eventfiles import accumulate

import vizlog

pytest_plugins = ["pytester"]

USER_TEST = '''
import vizlog

def train(epochs):
    log = vizlog.Logger()                     # the user's code picks no backend
    for step in range(epochs * 3):
        log.scalar("train/loss", 1.0 / (step + 1), step)
    log.scalars("loss", {"train": 0.5, "val": 0.7}, 0)
    log.text("notes", "done")
    log.close()

def test_training_logs_loss(vizlog_fake):
    train(epochs=2)
    assert [s for s, _ in vizlog_fake.scalars("train/loss")] == list(range(6))
    assert vizlog_fake.scalars("loss/val") == [(0, 0.7)]
    assert [c.kind for c in vizlog_fake.calls][-2:] == ["scalars", "text"]
    assert vizlog_fake.calls[-1].text == "done"

def test_nothing_leaks_between_tests(vizlog_fake):
    assert vizlog_fake.calls == []

def test_without_the_fixture_the_environment_decides(monkeypatch, tmp_path):
    monkeypatch.setenv("VIZLOG_BACKEND", "none")
    with vizlog.Logger(logdir=tmp_path) as log:
        assert log.backends == ("none",)
'''


def test_vizlog_fake_fixture_in_a_users_test_suite(pytester, monkeypatch):
    monkeypatch.setenv("VIZLOG_BACKEND", "tensorboard")  # the fixture must win over this
    monkeypatch.setenv("VIZLOG_LOGDIR", str(pytester.path / "must-not-exist"))
    pytester.makepyfile(test_user=USER_TEST)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    assert not (pytester.path / "must-not-exist").exists()


def test_fake_backend_explicitly():
    with vizlog.Logger("fake") as log:
        log.scalar("a", 1, 0)
        log.scalar("a", 2)
        fake = log.get_backend("fake")
    assert fake.scalars("a") == [(0, 1.0), (1, 2.0)]
    assert fake.closed


TENSORBOARDX_SCRIPT = """
from vizlog import SummaryWriter   # was: from tensorboardX import SummaryWriter
import numpy as np
writer = SummaryWriter({logdir!r})
for n_iter in range(10):
    writer.add_scalar('data/scalar1', n_iter * 0.5, n_iter)
    writer.add_scalars('data/scalar_group', {{'xsinx': n_iter * np.sin(n_iter),
                                             'xcosx': n_iter * np.cos(n_iter)}}, n_iter)
writer.add_histogram('hist', np.arange(100), 0)
writer.add_image('img', np.zeros((3, 16, 16)), 0)
writer.add_images('imgs', np.zeros((4, 3, 8, 8)), 0)
writer.add_text('Text', 'text logged at step:' + str(3), 3)
writer.add_pr_curve('xoxo', np.random.randint(2, size=100), np.random.rand(100), 0)
writer.add_embedding(np.random.rand(5, 3), metadata=list('abcde'))
writer.close()
"""


def test_tensorboardx_script_runs_unchanged_on_vizlog(tmp_path, monkeypatch):
    monkeypatch.setenv("VIZLOG_BACKEND", "tensorboard")
    exec(compile(TENSORBOARDX_SCRIPT.format(logdir=str(tmp_path)), "script", "exec"), {})
    acc = accumulate(tmp_path)
    assert [e.value for e in acc.Scalars("data/scalar1")] == [n * 0.5 for n in range(10)]
    cos = [e.value for e in accumulate(tmp_path / "xcosx").Scalars("data/scalar_group")]
    np.testing.assert_allclose(cos, [n * np.cos(n) for n in range(10)], rtol=1e-6)
    assert acc.Histograms("hist")[0].histogram_value.num == 100
    assert acc.Images("imgs")[0].width == 32
    assert acc.Tensors("Text/text_summary")[0].step == 3
    assert acc.Tensors("xoxo")
    assert (tmp_path / "projector_config.pbtxt").exists()


def test_summary_writer_on_another_backend():
    writer = vizlog.SummaryWriter(backend="fake")
    writer.add_scalar("loss", torch.tensor(0.25), global_step=4)
    writer.add_graph(torch.nn.Linear(2, 1), torch.zeros(1, 2))
    fake = writer.logger.get_backend("fake")
    writer.close()
    assert fake.scalars("loss") == [(4, 0.25)]
    assert fake.calls[1].kind == "graph" and fake.calls[1].graph_def
