"""The Logger's hparams, audio, video, mesh, figure, custom_scalars, histogram_raw,
pr_curve_raw and tensorboard_event: records, the spool's JSON form, bad input, private
copies of the caller's arrays, no optional package needed, and a window each on a real
Visdom server."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import uuid
import wave

import numpy as np
import pytest

import vizlog
from vizlog.records import from_json, to_json

pytestmark = pytest.mark.filterwarnings(
    "ignore:The 'warn' method is deprecated:DeprecationWarning"  # the visdom client's own
)

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402

VERTICES = np.array([[[1, 1, 1], [-1, -1, 1], [1, -1, -1], [-1, 1, -1]]], dtype=float)
FACES = np.array([[[0, 2, 3], [0, 3, 1], [0, 1, 2], [1, 3, 2]]])


def log_everything(log: vizlog.Logger) -> None:
    """One call of every new concept (the same calls in every test below)."""
    log.hparams({"lr": 0.1, "opt": "adam", "amp": True}, {"val/acc": 0.5, "val/loss": None},
                hparam_domain_discrete={"opt": ["adam", "sgd"]})
    log.hparams({"lr": 0.2}, {"acc": 1.0}, run_name="sweep/trial1", step=3)
    log.audio("sound", np.sin(np.linspace(0, 50, 800)), 2, sample_rate=8000)
    log.audio("stereo", np.zeros((100, 2)), 2)
    log.video("clip", np.linspace(0, 1, 2 * 3 * 3 * 4 * 4).reshape(2, 3, 3, 4, 4), 1, fps=2)
    log.mesh("tetra", VERTICES, VERTICES * 100 + 100, FACES, {"camera": {"fov": 75}}, 1)
    log.mesh("cloud", VERTICES[0])
    figure = plt.figure(figsize=(2, 1), dpi=40)
    plt.plot([0, 1, 0])
    log.figure("plot", figure, 4)
    log.custom_scalars({"losses": {"both": ["Multiline", ["loss/.*"]]},
                        "band": {"acc": ["Margin", ["acc", "acc_low", "acc_high"]]}})
    log.histogram_raw("raw", 0.0, 9.0, 10, 45.0, 285.0, [1.0, 5.0, 9.0], [1, 4, 5], 2)
    log.pr_curve_raw("prraw", [3, 1], [2, 0], [0, 2], [0, 2], [0.6, 1.0], [1.0, 0.33], 2)
    from tensorboard.compat.proto.summary_pb2 import Summary

    log.tensorboard_event(Summary(value=[Summary.Value(tag="raw_scalar", simple_value=2.5)]), 6)


def test_every_record_survives_the_spool_format():
    with vizlog.Logger("fake") as log:
        log_everything(log)
        log.scalar("styled", 1.0, 0, style=("double", "Styled", "a *description*"))
        calls = log.get_backend("fake").calls
    kinds = {r.kind for r in calls}
    assert {"hparams", "audio", "video", "mesh", "figure", "custom_scalars", "histogram",
            "pr_curve", "tensorboard_event", "scalar"} <= kinds
    for record in calls:
        again = from_json(to_json(record))
        assert type(again) is type(record)
        for name in record.__dataclass_fields__:
            a, b = getattr(again, name), getattr(record, name)
            if isinstance(b, np.ndarray):
                assert a.dtype == b.dtype and np.array_equal(a, b), (record.kind, name)
            else:
                assert a == b, (record.kind, name)


def test_hparams_in_the_run_log_their_metric_values_as_scalars():
    with vizlog.Logger("fake") as log:
        log.scalar("val/acc", 0.25, 7)
        log_everything(log)
        fake = log.get_backend("fake")
    first, trial = fake.records("hparams")
    assert first.run is None and first.hparams == {"lr": 0.1, "opt": "adam", "amp": True}
    assert first.domains == {"opt": ("adam", "sgd")}
    assert fake.scalars("val/acc") == [(7, 0.25), (8, 0.5)]  # the next step of that series
    assert fake.scalars("val/loss") == []  # None only names the metric
    assert (trial.run, trial.step, fake.scalars("acc")) == ("sweep/trial1", 3, [])


def test_records_own_their_arrays():
    sound, vertices = np.zeros(64), VERTICES.copy()
    video = np.zeros((1, 2, 3, 4, 4))
    counts = np.array([1.0, 2.0])
    with vizlog.Logger("fake") as log:
        log.audio("a", sound, 0)
        log.video("v", video, 0)
        log.mesh("m", vertices, None, FACES, None, 0)
        log.histogram_raw("h", 0, 1, 3, 1, 1, np.array([0.5, 1.0]), counts, 0)
        sound[:], vertices[:], video[:], counts[:] = 0.5, 7.0, 1.0, 9.0
        audio, clip, mesh, histogram = log.get_backend("fake").calls
    assert not audio.samples.any() and not clip.frames.any()
    assert np.array_equal(mesh.vertices, VERTICES) and histogram.bucket_counts.tolist() == [1, 2]


BAD_CALLS = [
    ("hparams", {"hparam_dict": [1, 2]}, "hparam_dict"),
    ("hparams", {"hparam_dict": {"lr": [0.1]}}, "hparam_dict['lr']"),
    ("hparams", {"hparam_dict": {"lr": 1}, "metric_dict": {"acc": "high"}}, "metric_dict"),
    ("hparams", {"hparam_dict": {"lr": 1}, "run_name": "../outside"}, "run_name"),
    ("hparams", {"hparam_dict": {"lr": 1}, "hparam_domain_discrete": {"lr": ["a"]}},
     "hparam_domain_discrete"),
    ("audio", {"tag": "a", "snd_tensor": np.zeros((3, 4, 5))}, "snd_tensor"),
    ("audio", {"tag": "a", "snd_tensor": [0.1, float("nan")]}, "snd_tensor"),
    ("audio", {"tag": "a", "snd_tensor": [0.1], "sample_rate": 0}, "sample_rate"),
    ("video", {"tag": "v", "vid_tensor": np.zeros((3, 8, 8))}, "vid_tensor"),
    ("video", {"tag": "v", "vid_tensor": np.zeros((1, 2, 2, 8, 8))}, "vid_tensor"),
    ("video", {"tag": "v", "vid_tensor": np.zeros((1, 2, 3, 8, 8)), "fps": -1}, "fps"),
    ("video", {"tag": "v", "vid_tensor": np.zeros((1, 2, 3, 8, 8)), "dataformats": "NTXHW"},
     "dataformats"),
    ("mesh", {"tag": "m", "vertices": np.zeros((4, 2))}, "vertices"),
    ("mesh", {"tag": "m", "vertices": VERTICES, "faces": FACES + 4}, "faces"),
    ("mesh", {"tag": "m", "vertices": VERTICES, "colors": np.zeros((1, 3, 3))}, "colors"),
    ("mesh", {"tag": "m", "vertices": VERTICES, "config_dict": {"a": object()}},
     "config_dict"),
    ("figure", {"tag": "f", "figure": np.zeros((3, 3))}, "figure"),
    ("figure", {"tag": "f", "figure": [], "close": True}, "figure"),
    ("custom_scalars", {"layout": {"c": {"t": ["Pie", ["a"]]}}}, "layout"),
    ("custom_scalars", {"layout": {"c": {"t": ["Margin", ["a", "b"]]}}}, "layout"),
    ("histogram_raw", {"tag": "h", "min": 0, "max": 1, "num": 1, "sum": 1, "sum_squares": 1,
                       "bucket_limits": [1, 2], "bucket_counts": [1]}, "bucket_limits"),
    ("pr_curve_raw", {"tag": "p", "true_positive_counts": [1], "false_positive_counts": [1],
                      "true_negative_counts": [1], "false_negative_counts": [1],
                      "precision": [1], "recall": [1, 2]}, "recall"),
    ("tensorboard_event", {"event": b"bytes"}, "event"),
    ("scalar", {"tag": "s", "value": 1.0, "style": ("triple", "", "")}, "style"),
]


@pytest.mark.parametrize("method, kwargs, named", BAD_CALLS,
                         ids=[f"{m}-{n}" for m, _, n in BAD_CALLS])
def test_bad_input_is_refused_naming_the_argument_and_nothing_is_logged(method, kwargs, named):
    with vizlog.Logger("fake") as log:
        with pytest.raises(vizlog.VizlogError) as raised:
            getattr(log, method)(**kwargs)
        assert f"{method}(" in str(raised.value) and named in str(raised.value)
        assert log.get_backend("fake").calls == []


def test_a_figure_is_not_closed_by_a_call_that_is_refused():
    figure = plt.figure()
    with vizlog.Logger("fake") as log, pytest.raises(vizlog.VizlogError):
        log.figure("f", figure, step="three")
    assert plt.fignum_exists(figure.number)
    plt.close(figure)


NO_OPTIONAL_PACKAGES = """
import sys
for name in ("soundfile", "moviepy", "scipy", "av", "imageio", "cv2"):
    sys.modules[name] = None  # importing any of them now fails, as if not installed
import numpy as np, vizlog
from vizlog.backends.visdom.payloads import record_ops
log = vizlog.Logger(["tensorboardx", "fake"], logdir=sys.argv[1])
log.audio("a", np.zeros((50, 2)), 0)
log.video("v", np.zeros((1, 3, 3, 4, 4)), 0)
log.close()
ops = [op for r in log.get_backend("fake").calls for op in record_ops(r)]
print(sorted(op.win for op in ops))
"""


def test_audio_and_video_need_no_optional_package(tmp_path):
    pytest.importorskip("tensorboardX")
    done = subprocess.run([sys.executable, "-c", NO_OPTIONAL_PACKAGES, str(tmp_path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['audio:a', 'video:v']"
    from eventfiles import accumulate

    tags = accumulate(tmp_path).Tags()
    assert tags["audio"] == ["a"] and tags["images"] == ["v"]


@pytest.fixture(scope="module")
def windows(visdom_server, tmp_path_factory):
    from visdom import Visdom

    env = "media" + uuid.uuid4().hex[:8]
    logdir = tmp_path_factory.mktemp("media")
    with vizlog.Logger("visdom", logdir=logdir, server=visdom_server.url, env=env) as log:
        log_everything(log)
    client = Visdom(server=f"http://{visdom_server.host}", port=visdom_server.port,
                    use_incoming_socket=False, raise_exceptions=True)
    return json.loads(client.get_window_data(env=env))


def test_every_concept_makes_a_visdom_window(windows):
    assert {"hparams:hparams", "hparams:sweep/trial1", "audio:sound", "audio:stereo",
            "video:clip", "mesh:tetra", "mesh:cloud", "figure:plot",
            "custom_scalars:custom_scalars", "histogram:raw", "histogram-trend:raw",
            "pr_curve:prraw", "tensorboard:raw_scalar", "scalar:val/acc"} <= set(windows)


def _data_url(content: str, mime: str) -> bytes:
    start = content.index(f"data:{mime};base64,") + len(f"data:{mime};base64,")
    return base64.b64decode(content[start:content.index('"', start)])


def test_visdom_audio_and_video_play(windows):
    from PIL import Image

    with wave.open(io.BytesIO(_data_url(windows["audio:sound"]["content"], "audio/wav"))) as w:
        assert (w.getframerate(), w.getnframes(), w.getnchannels()) == (8000, 800, 1)
    gif = Image.open(io.BytesIO(_data_url(windows["video:clip"]["content"], "image/gif")))
    assert (gif.n_frames, gif.size, gif.info["duration"]) == (3, (8, 4), 500)


def test_visdom_hparams_mesh_and_layout_show_what_was_logged(windows):
    table = windows["hparams:hparams"]["content"]
    for cell in ("lr", "0.1", "opt", "adam", "amp", "True", "val/acc", "0.5", "val/loss"):
        assert f"<td>{cell}</td>" in table
    [trace] = windows["mesh:tetra"]["content"]["data"]
    assert trace["type"] == "mesh3d" and trace["i"] == [0, 0, 0, 1]
    assert trace["vertexcolor"][0] == "rgb(255,255,255)"
    assert windows["mesh:cloud"]["content"]["data"][0]["type"] == "scatter3d"
    layout = windows["custom_scalars:custom_scalars"]["content"]
    assert "<b>band</b> / acc (Margin): acc, acc_low, acc_high" in layout
    assert "raw_scalar = 2.5" in windows["tensorboard:raw_scalar"]["content"]
    assert windows["figure:plot"]["type"] == "image"
