"""The examples train for real on real data and their logs are read back.

Each example runs in-process through its ``main(argv)`` with a tiny setting, once into the fake
backend (what was logged, in which kinds, with which steps) and once into real TensorBoard
event files (read back with TensorBoard's own EventAccumulator).  The default digits run is
checked to learn (validation accuracy above 90%), and ``make demo``'s command runs as a script.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("tqdm")

import torch  # noqa: E402
from eventfiles import accumulate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

import _common  # noqa: E402
import _data  # noqa: E402
import drop_in_summarywriter  # noqa: E402
import every_concept  # noqa: E402
import linear_regression  # noqa: E402
import train_digits  # noqa: E402

TINY_DIGITS = ["--device", "cpu", "--epochs", "2", "--limit", "128", "--batch-size", "32"]
TINY_LINEAR = ["--device", "cpu", "--epochs", "2", "--limit", "64", "--batch-size", "16"]
TINY_DROP_IN = ["--device", "cpu", "--epochs", "2", "--limit", "128", "--batch-size", "32"]
TINY_EVERY = ["--device", "cpu", "--epochs", "2", "--limit", "128", "--batch-size", "32"]
VAL_DIGITS = 360  # 20% of the 1797 digits
VAL_DIABETES = 89  # 20% of the 442 patients
DIGITS_PARAMETERS = [name for name, _ in train_digits.DigitsNet().named_parameters()]

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def steps(records: list) -> list[int]:
    return [r.step for r in records]


# ---------------------------------------------------------------- train_digits.py


def test_digits_logs_every_concept_into_the_fake_backend(vizlog_fake, capsys):
    metrics = train_digits.main(TINY_DIGITS)

    assert metrics["backends"] == ("fake",)
    assert metrics["steps"] == 8  # 2 epochs x 128 samples / 32
    per_step = vizlog_fake.records("scalar", "train/loss")
    assert steps(per_step) == list(range(1, 9))
    assert all(math.isfinite(r.value) for r in per_step)

    (loss_chart,) = {r.tag for r in vizlog_fake.records("scalars")}
    assert loss_chart == "loss"
    charts = vizlog_fake.records("scalars", "loss")
    assert steps(charts) == [1, 2] and all(set(r.values) == {"train", "val"} for r in charts)
    assert steps(vizlog_fake.records("scalar", "val/accuracy")) == [1, 2]
    assert 0.0 <= vizlog_fake.scalars("val/accuracy")[-1][1] <= 1.0
    learning_rates = [value for _, value in vizlog_fake.scalars("lr")]
    assert learning_rates[0] == pytest.approx(train_digits.LR)
    assert learning_rates[1] < learning_rates[0]  # the cosine schedule lowers it

    histograms = set(vizlog_fake.tags("histogram"))
    assert histograms == {f"{kind}/{name}" for kind in ("weights", "grads")
                          for name in DIGITS_PARAMETERS}
    assert all(steps(vizlog_fake.records("histogram", t)) == [1, 2] for t in histograms)

    inputs = vizlog_fake.records("image", "images/inputs")
    assert steps(inputs) == [1, 2]
    height, width, channels = inputs[0].pixels.shape
    assert channels in (3, 4) and height >= 32 and width >= 32 * 4  # a grid of enlarged digits
    assert steps(vizlog_fake.records("image", "images/misclassified")) == [1, 2]

    assert set(vizlog_fake.tags("pr_curve")) == {f"pr/digit_{d}" for d in range(10)}
    threes = int((_data.digits(torch.device("cpu")).y_val == 3).sum())
    curve = vizlog_fake.records("pr_curve", "pr/digit_3")[-1]
    assert curve.true_positive_counts[0] + curve.false_negative_counts[0] == threes

    (graph,) = vizlog_fake.records("graph")
    assert graph.graph_def  # traced, not just the module structure
    assert ("features.0", "Conv2d", 16 * 9 + 16) in graph.structure

    (embedding,) = vizlog_fake.records("embedding")
    assert embedding.tag == "val_features" and embedding.step == 2
    assert embedding.mat.shape == (VAL_DIGITS, 64) == (metrics["val_size"], 64)
    assert embedding.metadata_header == ("label", "predicted")
    assert len(embedding.metadata) == VAL_DIGITS
    assert embedding.label_img.shape[0] == VAL_DIGITS

    (summary,) = vizlog_fake.records("text")
    assert summary.tag == "summary" and "final validation accuracy" in summary.text
    assert f"{metrics['val_accuracy']:.2%}" in summary.text

    out, err = capsys.readouterr()
    assert "nothing to view" in out
    assert "epoch/s" not in err and "%|" not in err  # the bar stays quiet off a terminal


def test_digits_writes_tensorboard_event_files(tmp_path):
    metrics = train_digits.main([*TINY_DIGITS, "--backend", "tensorboard", "--logdir",
                                 str(tmp_path)])

    assert metrics["logdir"] == str(tmp_path)
    acc = accumulate(tmp_path)
    tags = acc.Tags()
    assert {"train/loss", "val/accuracy", "lr"} <= set(tags["scalars"])
    for key in ("train", "val"):  # scalars("loss", {...}): one run per key, tag "loss"
        assert [e.step for e in accumulate(tmp_path / key).Scalars("loss")] == [1, 2]
    assert [e.step for e in acc.Scalars("train/loss")] == list(range(1, 9))
    assert {f"grads/{name}" for name in DIGITS_PARAMETERS} <= set(tags["histograms"])
    assert {"images/inputs", "images/misclassified"} <= set(tags["images"])
    pr_tags = set(acc.PluginTagToContent("pr_curves"))
    assert pr_tags == {f"pr/digit_{d}" for d in range(10)}
    assert any(tag.startswith("summary") for tag in acc.PluginTagToContent("text"))
    assert tags["graph"] and acc.Graph().node

    config = (tmp_path / "projector_config.pbtxt").read_text()
    assert 'tensor_name: "val_features:00002"' in config
    (metadata,) = tmp_path.glob("*/val_features/metadata.tsv")
    rows = metadata.read_text().splitlines()
    assert rows[0] == "label\tpredicted" and len(rows) == 1 + VAL_DIGITS
    assert (metadata.parent / "sprite.png").is_file()


def test_digits_default_run_learns(tmp_path, capsys):
    """The ``make demo`` run (default settings) reaches more than 90% validation accuracy."""
    metrics = train_digits.main(["--device", "cpu", "--backend", "tensorboard", "--logdir",
                                 str(tmp_path)])

    assert metrics["epochs"] == train_digits.EPOCHS and metrics["train_size"] == 1437
    assert metrics["val_accuracy"] > 0.90
    accuracy = accumulate(tmp_path).Scalars("val/accuracy")
    assert accuracy[-1].value == pytest.approx(metrics["val_accuracy"])
    assert accuracy[-1].value > accuracy[0].value
    out = capsys.readouterr().out
    assert f"logs written to {tmp_path}" in out
    assert f"vizlog serve tensorboard --logdir {tmp_path}" in out


@pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning")
def test_digits_into_a_real_visdom_server(visdom_server, tmp_path, monkeypatch, capsys):
    """With ``--backend visdom`` every concept arrives as a window in the run's environment."""
    import json
    import uuid

    from visdom import Visdom

    monkeypatch.setenv("VIZLOG_VISDOM_SERVER", visdom_server.url)
    monkeypatch.delenv("VIZLOG_VISDOM_ENV", raising=False)
    env = "digits-" + uuid.uuid4().hex[:8]  # the environment is named after the logdir
    train_digits.main([*TINY_DIGITS, "--backend", "visdom", "--logdir", str(tmp_path / env)])

    client = Visdom(server=f"http://{visdom_server.host}", port=visdom_server.port,
                    use_incoming_socket=False, raise_exceptions=True)
    titles = [w.get("title", "") for w in json.loads(client.get_window_data(env=env)).values()]
    for expected in ("train/loss", "loss", "val/accuracy", "lr", "images/inputs",
                     "images/misclassified", "summary", "val_features", "graph",
                     "weights/classifier.weight", "grads/features.0.weight", "pr/digit_9"):
        assert any(title.startswith(expected) for title in titles), (expected, titles)
    assert sum(title.startswith("pr/digit_") for title in titles) == 10
    assert f"vizlog serve visdom   (environment '{env}')" in capsys.readouterr().out


def test_same_seed_same_run_other_seed_other_run():
    def run(seed: int) -> dict:
        return train_digits.main([*TINY_DIGITS, "--backend", "none", "--seed", str(seed)])

    first, again, other = run(7), run(7), run(8)
    for key in ("last_step_loss", "train_loss", "val_loss", "val_accuracy"):
        assert first[key] == again[key], key
    assert first["last_step_loss"] != other["last_step_loss"]


def test_examples_leave_torch_global_switches_as_they_were():
    def switches() -> tuple:
        return (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark,
                torch.get_num_threads())

    before = switches()
    args = argparse.Namespace(seed=0, device=torch.device("cpu"), threads=before[2] + 1)
    with _common.prepared(args):
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.get_num_threads() == before[2] + 1
    assert switches() == before


def test_digits_as_a_script_like_make_demo(tmp_path):
    """The file runs as ``python examples/train_digits.py``, as ``make demo`` runs it, and the
    way to view the logs it prints works as printed, with the virtualenv not activated."""
    bin_dir = os.path.dirname(sys.executable)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIZLOG_")}
    env["PATH"] = os.pathsep.join(
        d for d in env.get("PATH", os.defpath).split(os.pathsep)
        if d and os.path.realpath(d) != os.path.realpath(bin_dir)
    )
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / "train_digits.py"), "--epochs", "1", "--limit", "64",
         "--device", "cpu", "--logdir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "validation accuracy" in completed.stdout
    assert f"vizlog serve tensorboard --logdir {tmp_path}" in completed.stdout
    assert "%|" not in completed.stderr  # no progress bar when stderr is a pipe
    assert list(tmp_path.glob("events.out.tfevents.*"))
    (printed,) = [line.split("view them with: ", 1)[1] for line in completed.stdout.splitlines()
                  if line.startswith("view them with: ")]
    words = shlex.split(printed)
    assert words[words.index("serve"):] == ["serve", "tensorboard", "--logdir", str(tmp_path)]
    viewer = subprocess.run([*words, "--help"], capture_output=True, text=True, timeout=60,
                            env=env, cwd=tmp_path, check=False)
    assert viewer.returncode == 0 and "--logdir" in viewer.stdout, (printed, viewer.stderr)


# ---------------------------------------------------------------- linear_regression.py


def test_linear_regression_logs_loss_and_histograms_every_step(vizlog_fake):
    metrics = linear_regression.main(TINY_LINEAR)

    assert metrics["steps"] == 8  # 2 epochs x 64 samples / 16
    every_step = list(range(1, 9))
    assert steps(vizlog_fake.records("scalar", "loss")) == every_step
    for tag, size in (("weight", 10), ("bias", 1)):
        histograms = vizlog_fake.records("histogram", tag)
        assert steps(histograms) == every_step
        assert all(h.num == size for h in histograms)
    assert steps(vizlog_fake.records("scalar", "val/loss")) == [4, 8]
    assert steps(vizlog_fake.records("scalar", "val/r2")) == [4, 8]
    (coefficients,) = vizlog_fake.records("text", "coefficients")
    assert len(coefficients.text.splitlines()) == 2 + 10 + 1  # header, 10 features, bias
    assert metrics["val_size"] == VAL_DIABETES


def test_linear_regression_writes_tensorboard_event_files(tmp_path):
    metrics = linear_regression.main([*TINY_LINEAR, "--backend", "tensorboard", "--logdir",
                                      str(tmp_path)])

    acc = accumulate(tmp_path)
    assert [e.step for e in acc.Scalars("loss")] == list(range(1, metrics["steps"] + 1))
    assert len(acc.Histograms("weight")) == len(acc.Histograms("bias")) == metrics["steps"]
    assert acc.Scalars("val/r2")[-1].value == pytest.approx(metrics["val_r2"])
    assert any(tag.startswith("coefficients") for tag in acc.PluginTagToContent("text"))


def test_linear_regression_default_run_approaches_least_squares():
    metrics = linear_regression.main(["--device", "cpu", "--backend", "none"])
    # the exact least-squares fit explains 0.33 of the validation variance on this split
    assert metrics["val_r2"] > 0.25
    assert metrics["steps"] == linear_regression.EPOCHS * 12  # 353 samples in batches of 32


# ---------------------------------------------------------------- drop_in_summarywriter.py


def test_drop_in_script_changes_only_the_import_line():
    source = (EXAMPLES / "drop_in_summarywriter.py").read_text()
    original, swapped = "from tensorboardX import SummaryWriter", "from vizlog import SummaryWriter"
    assert f"\n# {original}\n{swapped}\n" in source
    assert "writer = SummaryWriter(logdir)" in source
    assert "vizlog." not in source.split("def train(")[1].split("\ndef ")[0]


def test_drop_in_script_logs_into_the_fake_backend(vizlog_fake, capsys):
    metrics = drop_in_summarywriter.main(TINY_DROP_IN)

    assert metrics["backends"] == ("fake",)
    assert steps(vizlog_fake.records("scalar", "Loss/train")) == list(range(metrics["steps"]))
    assert steps(vizlog_fake.records("scalar", "Accuracy/val")) == [0, 1]
    assert set(vizlog_fake.tags("histogram")) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    (image, _) = vizlog_fake.records("image", "first_layer")
    assert image.pixels.shape[:2] == (32, 64)
    assert vizlog_fake.tags("text") == ["hparams", "result"]
    assert "nothing to view" in capsys.readouterr().out


def test_drop_in_script_matches_tensorboardx_itself(tmp_path):
    """The unchanged ``train`` run once with vizlog's writer and once with tensorboardX's own:
    the same tags of the same kinds reach the event files."""
    tensorboardx = pytest.importorskip("tensorboardX")

    def tags(logdir: Path) -> dict[str, set[str]]:
        acc = accumulate(logdir)
        found = acc.Tags()
        return {
            "scalars": set(found["scalars"]),
            "histograms": set(found["histograms"]),
            "images": set(found["images"]),
            "text": set(acc.PluginTagToContent("text")),
        }

    def run(logdir: Path) -> dict:
        with _common.deterministic(0, torch.device("cpu")) as generator:
            metrics, writer = drop_in_summarywriter.train(
                str(logdir), 2, 32, 0.05, torch.device("cpu"), generator, limit=128
            )
        return metrics

    ours = run(tmp_path / "vizlog")
    original = drop_in_summarywriter.SummaryWriter
    drop_in_summarywriter.SummaryWriter = tensorboardx.SummaryWriter
    try:
        theirs = run(tmp_path / "tensorboardX")
    finally:
        drop_in_summarywriter.SummaryWriter = original

    assert ours["last_step_loss"] == theirs["last_step_loss"]  # same training either way
    expected = tags(tmp_path / "tensorboardX")
    assert expected["scalars"] == {"Loss/train", "Loss/val", "Accuracy/val"}
    assert tags(tmp_path / "vizlog") == expected


# ---------------------------------------------------------------- every_concept.py

EVERY_KIND = {"scalar", "scalars", "histogram", "image", "embedding", "graph", "pr_curve",
              "text", "hparams", "audio", "video", "mesh", "figure", "custom_scalars"}


def test_every_concept_logs_every_kind_of_record(vizlog_fake):
    pytest.importorskip("matplotlib")
    metrics = every_concept.main(TINY_EVERY)

    assert {record.kind for record in vizlog_fake.calls} == EVERY_KIND
    assert steps(vizlog_fake.records("scalar", "loss/step")) == list(range(metrics["steps"]))
    first, last = vizlog_fake.records("hparams")
    assert first.hparams == last.hparams and last.metrics["val/accuracy"] == pytest.approx(
        metrics["val_accuracy"])
    assert vizlog_fake.scalars("val/accuracy")[-1][1] == pytest.approx(metrics["val_accuracy"])
    (video,) = vizlog_fake.records("video")
    assert video.frames.shape[0] == 2 and video.gif.startswith(b"GIF89a")
    assert [f.pixels.shape[2] for f in vizlog_fake.records("figure")] == [3, 3]


def test_every_concept_into_tensorboard_event_files(tmp_path):
    pytest.importorskip("matplotlib")
    every_concept.main([*TINY_EVERY, "--backend", "tensorboard", "--logdir", str(tmp_path)])

    acc = accumulate(tmp_path)
    tags = acc.Tags()
    assert {"inputs", "confusion", "hidden/weights_over_epochs"} <= set(tags["images"])
    assert tags["audio"] == ["loss/sound"] and tags["graph"]
    assert "val/accuracy" in tags["scalars"]
    for key in ("train", "val"):  # scalars(): one run per key, the main tag its tag
        assert [e.step for e in accumulate(tmp_path / key).Scalars("loss")] == [0, 1]
    assert {"val_features_3d_VERTEX", "val_features_3d_COLOR"} <= set(tags["tensors"])
    assert "_hparams_/session_start_info" in acc.PluginTagToContent("hparams")
    assert "custom_scalars__config__" in acc.PluginTagToContent("custom_scalars")
    assert (tmp_path / "projector_config.pbtxt").exists()


# ---------------------------------------------------------------- shared command line


def test_device_auto_prefers_cuda_then_mps_then_cpu():
    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if _common._mps_available() else "cpu")
    assert _common.pick_device("auto").type == expected
    assert _common.pick_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_forcing_a_missing_device_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_digits.main(["--device", "cuda", "--backend", "none"])
    assert exit_info.value.code == 2
    assert "--device cuda: no CUDA device" in capsys.readouterr().err


@pytest.mark.parametrize("argv, named", [
    (["--epochs", "0"], "--epochs"),
    (["--batch-size", "-1"], "--batch-size"),
    (["--lr", "0"], "--lr"),
    (["--device", "tpu"], "--device"),
])
def test_bad_flags_name_the_flag(argv, named, capsys):
    with pytest.raises(SystemExit):
        linear_regression.main([*argv, "--backend", "none"])
    assert named in capsys.readouterr().err


def test_where_to_look_names_a_viewer_per_backend(monkeypatch):
    monkeypatch.delenv("VIZLOG_VISDOM_ENV", raising=False)
    lines = _common.where_to_look(("tensorboard", "visdom"), "runs/my run")
    assert lines[0] == "logs written to runs/my run (backends: tensorboard, visdom)"
    assert "vizlog serve tensorboard --logdir 'runs/my run'" in lines[1]
    assert "vizlog serve visdom" in lines[2] and "'my run'" in lines[2]
    monkeypatch.setenv("VIZLOG_VISDOM_ENV", "shared")
    assert "(environment 'shared')" in _common.where_to_look(("visdom",), "runs/x")[1]


# ---------------------------------------------------------------- on a GPU


@requires_cuda
@pytest.mark.cuda
@pytest.mark.parametrize("example, argv", [
    (train_digits, TINY_DIGITS), (linear_regression, TINY_LINEAR),
    (drop_in_summarywriter, TINY_DROP_IN),
])
def test_examples_train_on_cuda_with_mixed_precision(example, argv, vizlog_fake):
    cuda_argv = [*argv[2:], "--device", "cuda"]
    first = example.main(cuda_argv)
    assert first["device"] == "cuda"
    assert math.isfinite(first["last_step_loss"])
    assert vizlog_fake.records("scalar")  # device tensors were logged as they are
    again = example.main(cuda_argv)
    assert again["last_step_loss"] == first["last_step_loss"]  # deterministic on CUDA too


@requires_cuda
@pytest.mark.cuda
def test_cuda_mixed_precision_is_on():
    amp = _common.MixedPrecision(torch.device("cuda"))
    assert amp.enabled and amp.scaler.is_enabled()
    with amp.autocast():
        out = torch.nn.Linear(4, 4).cuda()(torch.ones(2, 4, device="cuda"))
    assert out.dtype == torch.float16
