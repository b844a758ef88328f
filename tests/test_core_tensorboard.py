"""Every concept, logged through vizlog to each TensorBoard writer and read back from disk."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from eventfiles import accumulate, decode_png
from tensorboard.util import tensor_util

import vizlog
from vizlog.concepts.histogram import TENSORFLOW_EDGES

WRITERS = ["tensorboard", "tensorboardx"]


@pytest.fixture(params=WRITERS)
def writer_backend(request):
    return request.param


def test_scalars_steps_values_and_walltime(tmp_path, writer_backend):
    with vizlog.Logger(writer_backend, logdir=tmp_path) as log:
        for step in range(20):
            log.scalar("train/loss", torch.tensor(1.0 / (step + 1)), step)
        log.scalar("lr", np.float32(0.5), 7, walltime=1234.5)
        log.scalar("auto", 3)  # step=None starts at 0
        log.scalar("auto", 4)
    acc = accumulate(tmp_path)
    loss = acc.Scalars("train/loss")
    assert [e.step for e in loss] == list(range(20))
    np.testing.assert_allclose([e.value for e in loss], [1.0 / (s + 1) for s in range(20)],
                               rtol=1e-6)
    (lr,) = acc.Scalars("lr")
    assert (lr.step, lr.value, lr.wall_time) == (7, 0.5, 1234.5)
    assert [(e.step, e.value) for e in acc.Scalars("auto")] == [(0, 3.0), (1, 4.0)]


def test_scalars_one_run_per_key_shared_by_main_tags(tmp_path, writer_backend):
    """TensorBoard draws a card per tag and a line per run: each key is a run holding the
    main tag, so ``loss`` is one card with a ``train`` and a ``val`` line; the runs are
    shared by all main tags, so the run list grows by one per key, not per main tag and key."""
    with vizlog.Logger(writer_backend, logdir=tmp_path) as log:
        for step in range(3):
            log.scalars("loss", {"train": 1.0 + step, "val": 2.0 + step}, step)
            log.scalars("acc", {"train": 0.5, "val": 0.25}, step)
        log.scalars("loss", {"test": 9.0}, 3)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["test", "train", "val"]
    train, val, test = (accumulate(tmp_path / key) for key in ("train", "val", "test"))
    assert [(e.step, e.value) for e in train.Scalars("loss")] == [(0, 1.0), (1, 2.0), (2, 3.0)]
    assert [e.value for e in val.Scalars("loss")] == [2.0, 3.0, 4.0]
    assert [e.value for e in test.Scalars("loss")] == [9.0]
    assert sorted(train.Tags()["scalars"]) == sorted(val.Tags()["scalars"]) == ["acc", "loss"]
    assert accumulate(tmp_path).Tags()["scalars"] == []  # no loss/train card beside the loss card
    assert vizlog.read_scalars(tmp_path).groupby("tag").size().to_dict() == {
        "acc/train": 3, "acc/val": 3, "loss/test": 1, "loss/train": 3, "loss/val": 3}


def test_scalars_keys_of_a_resumed_run_are_purged_too(tmp_path, writer_backend):
    """``purge_step`` hides what each key logged at that step or later, as for the run's own
    tags, and ``filename_suffix`` ends the keys' event files too."""
    with vizlog.Logger(writer_backend, logdir=tmp_path) as log:
        for step in range(10):
            log.scalars("loss", {"train": float(step)}, step)
    with vizlog.Logger(writer_backend, logdir=tmp_path, purge_step=4,
                       filename_suffix=".resumed") as log:
        for step in range(4, 7):
            log.scalars("loss", {"train": -float(step)}, step)
    shown = [(e.step, e.value) for e in accumulate(tmp_path / "train").Scalars("loss")]
    assert shown == [(0, 0.0), (1, 1.0), (2, 2.0), (3, 3.0), (4, -4.0), (5, -5.0), (6, -6.0)]
    assert len([p for p in (tmp_path / "train").iterdir()
                if p.name.endswith(".resumed.vizlog-scalars-key")]) == 1


def test_histogram_counts_and_bins_match_the_writers(tmp_path, writer_backend):
    values = torch.randn(5000, generator=torch.Generator().manual_seed(0))
    with vizlog.Logger(writer_backend, logdir=tmp_path) as log:
        log.histogram("fc1/weight", values, 3)
    (event,) = accumulate(tmp_path).Histograms("fc1/weight")
    h = event.histogram_value
    assert event.step == 3
    assert h.num == 5000
    assert h.min == pytest.approx(float(values.min()))
    assert h.max == pytest.approx(float(values.max()))
    assert sum(h.bucket) == 5000
    # same bins as the raw writer would make
    from torch.utils.tensorboard.summary import make_histogram

    raw = make_histogram(values.double().numpy(), TENSORFLOW_EDGES.tolist())
    assert list(h.bucket_limit) == list(raw.bucket_limit)
    assert list(h.bucket) == list(raw.bucket)


def test_image_single_and_grid_pixels(tmp_path, writer_backend):
    chw = torch.zeros(3, 4, 5)
    chw[0] = 1.0  # pure red
    batch = torch.rand(10, 1, 6, 7, generator=torch.Generator().manual_seed(1))
    hwc_u8 = np.full((8, 9, 3), 200, dtype=np.uint8)
    with vizlog.Logger(writer_backend, logdir=tmp_path) as log:
        log.image("red", chw, 0)
        log.image("batch", batch, 0)
        log.image("u8", hwc_u8, 0)
        log.image("grey", np.linspace(0, 1, 12).reshape(3, 4), 0)
    acc = accumulate(tmp_path)
    red = decode_png(acc.Images("red")[0].encoded_image_string)
    assert red.shape == (4, 5, 3)
    assert (red[..., 0] == 255).all() and (red[..., 1:] == 0).all()
    grid_event = acc.Images("batch")[0]
    grid = decode_png(grid_event.encoded_image_string)
    assert (grid_event.height, grid_event.width) == (12, 56)  # 10 images, 8 per row
    expected_first = np.rint(batch[0, 0].numpy() * 255).astype(np.uint8)
    np.testing.assert_array_equal(grid[:6, :7, 0], expected_first)
    assert (grid[6:, 14:] == 0).all()  # empty cells of the last row
    assert (decode_png(acc.Images("u8")[0].encoded_image_string) == 200).all()
    grey = decode_png(acc.Images("grey")[0].encoded_image_string)
    assert grey.shape == (3, 4, 3) and grey[0, 0, 0] == 0 and grey[-1, -1, 2] == 255


def test_text(tmp_path, writer_backend):
    with vizlog.Logger(writer_backend, logdir=tmp_path) as log:
        log.text("notes", "lr=1e-3, **batch** 64", 2)
    acc = accumulate(tmp_path)
    (event,) = acc.Tensors("notes/text_summary")
    assert event.step == 2
    assert event.tensor_proto.string_val[0].decode() == "lr=1e-3, **batch** 64"


def test_pr_curve_matches_the_writers(tmp_path, writer_backend):
    gen = torch.Generator().manual_seed(2)
    labels = torch.randint(0, 2, (400,), generator=gen)
    predictions = torch.rand(400, generator=gen)
    with vizlog.Logger(writer_backend, logdir=tmp_path) as log:
        log.pr_curve("val/pr", labels, predictions, 5, num_thresholds=50)
    (event,) = accumulate(tmp_path).Tensors("val/pr")
    data = tensor_util.make_ndarray(event.tensor_proto)
    assert data.shape == (6, 50)
    from torch.utils.tensorboard.summary import compute_curve

    expected = compute_curve(labels.numpy(), predictions.numpy(), num_thresholds=50)
    np.testing.assert_allclose(data, expected, rtol=1e-6)
    assert event.step == 5
    assert data[0, 0] == labels.sum().item()  # all positives above the lowest threshold


def test_embedding_projector_files(tmp_path, writer_backend):
    mat = torch.randn(12, 4)
    labels = [str(i % 3) for i in range(12)]
    with vizlog.Logger(writer_backend, logdir=tmp_path) as log:
        log.embedding(mat, metadata=labels, label_img=torch.rand(12, 1, 8, 8), tag="digits")
        log.embedding(mat[:, :2], metadata=[[str(i), "x"] for i in range(12)],
                      metadata_header=["id", "kind"], tag="two columns")
    config = (tmp_path / "projector_config.pbtxt").read_text()
    assert 'tensor_name: "digits:00000"' in config and "single_image_dim: 8" in config
    digits = tmp_path / "00000" / "digits"
    np.testing.assert_allclose(np.loadtxt(digits / "tensors.tsv"), mat.numpy(), rtol=1e-6)
    assert (digits / "metadata.tsv").read_text().splitlines() == labels
    sprite = decode_png((digits / "sprite.png").read_bytes())
    assert sprite.shape == (32, 32, 3)  # 4 x 4 thumbnails of 8 x 8
    two = (tmp_path / "00000" / "two columns" / "metadata.tsv").read_text().splitlines()
    assert two[0] == "id\tkind" and two[1:3] == ["0\tx", "1\tx"]
    # the projector plugin itself can read the config
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    parsed = text_format.Parse(config, ProjectorConfig())
    assert [e.tensor_name for e in parsed.embeddings] == ["digits:00000", "two columns:00000"]


def test_graph(tmp_path, writer_backend):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    with vizlog.Logger(writer_backend, logdir=tmp_path) as log:
        log.graph(model, torch.zeros(2, 4))
    graph = accumulate(tmp_path).Graph()
    ops = {node.op for node in graph.node}
    assert "aten::linear" in ops and "aten::relu" in ops


def test_untraceable_graph_warns_and_run_goes_on(tmp_path, writer_backend):
    class ReturnsStrings(torch.nn.Module):
        def forward(self, x):
            return {"a": [x, "not a tensor"]}

    with vizlog.Logger(writer_backend, logdir=tmp_path) as log:
        with pytest.warns(RuntimeWarning, match="cannot trace the graph of ReturnsStrings"):
            log.graph(ReturnsStrings(), torch.zeros(1))
        log.scalar("after", 1.0, 0)
    assert [e.value for e in accumulate(tmp_path).Scalars("after")] == [1.0]


def test_records_round_trip_through_json(tmp_path):
    from vizlog.records import from_json, to_json

    with vizlog.Logger("fake") as log:
        log.scalar("s", 1.5, 1)
        with pytest.warns(RuntimeWarning, match="non-finite"):
            log.scalars("m", {"a": 1, "b": float("nan")}, 2)
        log.histogram("h", [1.0, 2.0, 3.0])
        log.image("i", np.zeros((3, 2, 2)))
        log.embedding(np.eye(3), metadata=["a", "b", "c"])
        log.graph(torch.nn.Linear(2, 2), torch.zeros(1, 2))
        log.pr_curve("p", [0, 1, 1], [0.1, 0.9, 0.4])
        log.text("t", "<b>x</b>")
        calls = log.get_backend("fake").calls
    for record in calls:
        line = to_json(record)
        json.loads(line)  # valid JSON lines, NaN included
        back = from_json(line)
        assert type(back) is type(record) and back.tag == record.tag and back.step == record.step
    assert from_json(to_json(calls[3])).pixels.tobytes() == calls[3].pixels.tobytes()
    assert from_json(to_json(calls[5])).graph_def == calls[5].graph_def
