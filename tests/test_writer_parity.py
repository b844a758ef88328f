"""``vizlog.SummaryWriter`` against the writers it imitates, method by method.

Each case makes the same calls on ``torch.utils.tensorboard.SummaryWriter`` (compared with
vizlog's ``tensorboard`` backend) and on ``tensorboardX.SummaryWriter`` (compared with the
``tensorboardx`` backend), then reads both runs back with TensorBoard's own event-file
loader and compares every summary value, tag by tag and step by step.
"""

from __future__ import annotations

import io
import wave
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
from tensorboard.compat.proto.event_pb2 import Event

import vizlog

torch = pytest.importorskip("torch")
tensorboardX = pytest.importorskip("tensorboardX")
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402

WRITERS = {"tensorboard": TorchWriter, "tensorboardx": tensorboardX.SummaryWriter}


def summary_values(logdir: Path) -> dict[tuple[str, str], list[tuple[int, Any]]]:
    """Every summary value of every run under ``logdir``, as written (not converted as
    TensorBoard converts them for its plugins): ``(run, tag) -> [(step, value)]``."""
    found: dict[tuple[str, str], list[tuple[int, Any]]] = defaultdict(list)
    for path in sorted(logdir.rglob("events.out.tfevents*")):
        run = str(path.parent.relative_to(logdir))
        for event in map(Event.FromString, RawEventFileLoader(str(path)).Load()):
            for value in event.summary.value:
                found[(run, value.tag)].append((event.step, value))
    return dict(found)


def run_both(backend: str, tmp_path: Path, calls: Any) -> tuple[dict, dict]:
    theirs = WRITERS[backend](str(tmp_path / "theirs"))
    calls(theirs)
    theirs.close()
    ours = vizlog.SummaryWriter(str(tmp_path / "ours"), backend=backend)
    calls(ours)
    ours.close()
    return summary_values(tmp_path / "theirs"), summary_values(tmp_path / "ours")


def assert_same(theirs: dict, ours: dict) -> None:
    assert sorted(ours) == sorted(theirs)
    for key, expected in theirs.items():
        got = ours[key]
        assert [s for s, _ in got] == [s for s, _ in expected], key
        for (_, a), (_, b) in zip(got, expected, strict=True):
            if a.HasField("histo"):  # sums may be added up in another order: last digits
                for field in ("sum", "sum_squares"):
                    assert getattr(a.histo, field) == pytest.approx(getattr(b.histo, field),
                                                                    rel=1e-12)
                    setattr(a.histo, field, getattr(b.histo, field))
            assert a == b, (key, a, b)


BOTH = pytest.mark.parametrize("backend", ["tensorboard", "tensorboardx"])
MESH = (np.array([[[1, 1, 1], [-1, -1, 1], [1, -1, -1], [-1, 1, -1]]], dtype=float),
        np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 0, 255]]], dtype=int),
        np.array([[[0, 2, 3], [0, 3, 1], [0, 1, 2], [1, 3, 2]]], dtype=int))
LAYOUT = {"Taiwan": {"twse": ["Multiline", ["twse/0050", "twse/2330"]]},
          "USA": {"dow": ["Margin", ["dow/aaa", "dow/bbb", "dow/ccc"]]}}
PR_RAW = ([75, 64, 21, 5, 0], [150, 105, 18, 0, 0], [0, 45, 132, 150, 150],
          [0, 11, 54, 70, 75], [0.3333333, 0.3786982, 0.5384616, 1.0, 0.0],
          [1.0, 0.8533334, 0.28, 0.0666667, 0.0])
RNG = np.random.default_rng(0)
PICTURE = RNG.integers(0, 256, (3, 40, 48), dtype=np.uint8)
VALUES = RNG.normal(size=500)
BATCH = RNG.integers(0, 256, (3, 3, 8, 8), dtype=np.uint8)
LABELS, PREDICTIONS = RNG.integers(0, 2, 100), RNG.random(100)

CASES = {
    "add_scalar": lambda w: [w.add_scalar("loss", v, i, walltime=100.0 + i)
                             for i, v in enumerate([0.5, 0.25, 1e-7])],
    "add_histogram": lambda w: [w.add_histogram("h", VALUES, 3),
                                w.add_histogram("auto", VALUES, 4, bins="auto", max_bins=5),
                                w.add_histogram("fd", np.arange(1024.0), 5, "fd", max_bins=5)],
    "add_histogram_raw": lambda w: w.add_histogram_raw(
        "raw", 0.0, 9.0, 10, 45.0, 285.0, [1.0, 5.0, 9.0], [1, 4, 5], global_step=2),
    "add_image": lambda w: w.add_image("img", PICTURE, 1),
    "add_images": lambda w: w.add_images("imgs", BATCH, 1),
    "add_image_with_boxes": lambda w: w.add_image_with_boxes(
        "boxes", PICTURE, np.array([[2, 3, 20, 30], [10, 5, 40, 35]]), 4,
        labels=["cat", "dog"]),
    "add_text": lambda w: w.add_text("note", "a|b\n-|-\nc|d", 5),
    "add_pr_curve": lambda w: w.add_pr_curve("pr", LABELS, PREDICTIONS, 1),
    "add_pr_curve_raw": lambda w: w.add_pr_curve_raw("prraw", *PR_RAW, 1),
    "add_custom_scalars": lambda w: w.add_custom_scalars(LAYOUT),
    "add_custom_scalars_multilinechart": lambda w: w.add_custom_scalars_multilinechart(
        ["a", "b"], category="c", title="t"),
    "add_custom_scalars_marginchart": lambda w: w.add_custom_scalars_marginchart(
        ["a", "b", "c"]),
    "add_mesh": lambda w: w.add_mesh("my_mesh", *MESH, config_dict={"camera": {"fov": 75}},
                                     global_step=3),
    "add_hparams(run_name)": lambda w: w.add_hparams(
        {"lr": 0.1, "bsize": 4, "opt": "adam"}, {"hp/acc": 0.75}, run_name="trial"),
}


@BOTH
@pytest.mark.parametrize("method", sorted(CASES))
def test_method_writes_what_the_writer_writes(backend, method, tmp_path):
    calls = CASES[method]
    if method == "add_hparams(run_name)" and backend == "tensorboardx":
        def calls(w):
            w.add_hparams({"lr": 0.1, "bsize": 4, "opt": "adam"}, {"hp/acc": 0.75},
                          name="trial")
    theirs, ours = run_both(backend, tmp_path, calls)
    assert theirs, "the writer wrote nothing to compare with"
    assert_same(theirs, ours)


def test_scalar_styles_as_each_writer_writes_them(tmp_path):
    theirs, ours = run_both("tensorboard", tmp_path / "torch", lambda w: [
        w.add_scalar("new", 0.2, 1, new_style=True),
        w.add_scalar("double", 1 / 3, 2, new_style=True, double_precision=True)])
    assert_same(theirs, ours)
    theirs, ours = run_both("tensorboardx", tmp_path / "x", lambda w: [
        w.add_scalar("named", 0.5, 1, display_name="dudubird"),
        w.add_scalar("described", 0.5, 2, summary_description="# markdown"),
        w.add_scalar("positional", 0.5, 3, None, "title", "text")])
    assert_same(theirs, ours)


def test_figures_render_as_the_writers_render_them(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    def calls(w):
        figures = []
        for i in range(3):
            figure = plt.figure(figsize=(2, 1.5), dpi=50)
            plt.plot([i, 2 * i, 3 * i])
            figures.append(figure)
        w.add_figure("one", figures[0], 0, close=False)
        w.add_figure("list", figures, 1)
        assert not any(plt.fignum_exists(f.number) for f in figures)

    for backend in WRITERS:
        theirs, ours = run_both(backend, tmp_path / backend, calls)
        assert_same(theirs, ours)


def test_tensor_as_torch_writes_it(tmp_path):
    theirs, ours = run_both("tensorboard", tmp_path, lambda w: [
        w.add_tensor("ints", torch.tensor([1, 2, 3], dtype=torch.int32), 4),
        w.add_tensor("floats", torch.tensor([[0.5, 1.5]]), 5)])
    assert_same(theirs, ours)


def _samples(value: Any) -> np.ndarray:
    with wave.open(io.BytesIO(value.audio.encoded_audio_string)) as wav:
        assert wav.getsampwidth() == 2
        frames = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
        return frames.reshape(-1, wav.getnchannels())


def test_audio_as_torch_writes_it_without_any_audio_package(tmp_path):
    sound = np.sin(np.linspace(0, 200, 4000)).astype(np.float32)
    theirs, ours = run_both("tensorboard", tmp_path, lambda w: w.add_audio("a", sound, 2,
                                                                             8000))
    assert_same(theirs, ours)  # the same WAV bytes


def test_audio_as_tensorboardx_writes_it_mono_and_stereo(tmp_path):
    pytest.importorskip("soundfile")  # tensorboardX's own add_audio needs it; vizlog does not
    mono = np.sin(np.linspace(0, 200, 4000))
    stereo = np.stack([mono, -mono], axis=1)
    theirs, ours = run_both("tensorboardx", tmp_path, lambda w: [
        w.add_audio("mono", mono, 1, 8000), w.add_audio("stereo", stereo, 2, 8000)])
    assert sorted(ours) == sorted(theirs)
    for key, [(step, expected)] in theirs.items():
        [(got_step, got)] = ours[key]
        assert got_step == step
        for field in ("sample_rate", "num_channels", "length_frames", "content_type"):
            assert getattr(got.audio, field) == getattr(expected.audio, field)
        # soundfile scales by 32768 and rounds, torch (and vizlog) by 32767 and truncate:
        # at most two steps of 65536 apart
        difference = _samples(got).astype(int) - _samples(expected).astype(int)
        assert np.abs(difference).max() <= 2
        assert difference.shape == (4000, 2 if key[1] == "stereo" else 1)


def test_video_frames_are_the_writers_frames(tmp_path):
    """Neither writer can encode without moviepy; the frames vizlog encodes are the writers'
    own layout (``_prepare_video``), and the GIF holds them at 1/fps each."""
    from PIL import Image
    from torch.utils.tensorboard._utils import _prepare_video

    video = RNG.integers(0, 256, (3, 4, 3, 8, 6), dtype=np.uint8)
    for backend in WRITERS:
        with vizlog.SummaryWriter(str(tmp_path / backend), backend=backend) as w:
            w.add_video("v", video, 7, fps=5)
        [(step, value)] = summary_values(tmp_path / backend)[(".", "v")]
        expected = np.rint(_prepare_video(video.copy()) * 255).astype(np.uint8)
        gif = Image.open(io.BytesIO(value.image.encoded_image_string))
        assert (step, value.image.height, value.image.width) == (7, 8, 24)
        assert gif.n_frames == 4 and gif.info["duration"] == 200 and gif.info["loop"] == 0
        for t in range(4):
            gif.seek(t)
            frame = np.asarray(gif.convert("RGB")).astype(int)
            assert np.abs(frame - expected[t]).mean() < 3  # GIF palettes: 256 colours


def test_openvino_graph_as_tensorboardx_reads_it(tmp_path):
    from tensorboardX.openvino_graph import load_openvino_graph

    xml = tmp_path / "model.xml"
    xml.write_text('<net name="n"><layers><layer id="0" name="input"/><layer id="1" '
                   'name="conv"/><layer id="2" name="relu"/></layers><edges>'
                   '<edge from-layer="0" to-layer="1"/><edge from-layer="1" to-layer="2"/>'
                   "</edges></net>")
    with vizlog.SummaryWriter(str(tmp_path / "ours"), backend="tensorboard") as w:
        w.add_openvino_graph(str(xml))
    [path] = (tmp_path / "ours").glob("events.out.tfevents*")
    events = map(Event.FromString, RawEventFileLoader(str(path)).Load())
    [graph_def] = [e.graph_def for e in events if e.graph_def]
    assert graph_def == load_openvino_graph(str(xml)).SerializeToString()


def test_onnx_graph_names_the_missing_package(tmp_path):
    pytest.importorskip("torch")
    if __import__("importlib").util.find_spec("onnx") is not None:
        pytest.skip("onnx is installed here")
    model = tmp_path / "model.onnx"
    model.write_bytes(b"\x08\x07")
    writer = vizlog.SummaryWriter(str(tmp_path), backend="fake")
    for call in (lambda: writer.add_onnx_graph(str(model)),
                 lambda: writer.add_onnx_graph(prototxt=str(model))):
        with pytest.raises(ImportError, match="'onnx' package"):
            call()
    with pytest.raises(vizlog.VizlogValueError, match="no such file"):
        writer.add_onnx_graph(str(tmp_path / "missing.onnx"))
    assert writer.logger.get_backend("fake").calls == []
