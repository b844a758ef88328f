"""The pure half of the Visdom backend: records to window operations and messages."""

from __future__ import annotations

import base64
import dataclasses
import io

import numpy as np
import pytest

import vizlog
from vizlog.backends.visdom.payloads import (
    APPEND,
    TEXT_SEPARATOR,
    TRACE,
    WINDOW,
    append_message,
    count_for,
    record_items,
    record_ops,
    trace_messages,
    window_counts,
)
from vizlog.backends.visdom.views import (
    GRID_PADDING,
    MAX_SIDE,
    READABLE_SIDE,
    bin_bars,
    bin_percentiles,
    escape_text,
    graph_html,
    pca_project,
)
from vizlog.concepts import histogram, pr_curve
from vizlog.records import Embedding, Graph, Histogram, Image, PRCurve, Scalar, Scalars, Text


def _histogram(values, step=1, bins="tensorflow"):
    return Histogram(tag="w", step=step, walltime=0.0, **histogram.histogram_fields(values, bins))


@pytest.mark.parametrize("record", [
    Scalar("loss", 7, 0.0, 0.25),
    Scalar("loss", 8, 1.0, float("nan")),
    Scalar("other", 7, 0.0, 0.5),
    Scalars("acc", 3, 0.0, {"train": 0.5, "val": 0.25}),
    Scalars("acc", 4, 0.0, {"val": 0.75, "test": 1.0}),
    Text("notes", 2, 0.0, "x"),
], ids=lambda r: f"{r.kind}-{r.tag}-{r.step}")
def test_record_items_are_record_ops_with_their_items_apart(record):
    """The sender's per-tag ops (made once per tag) give the same requests as the views."""
    for _ in range(2):  # the op made for the first point serves the next ones
        pairs = record_items(record)
        assert [dataclasses.replace(op, items=items) for op, items in pairs] == record_ops(record)


def test_scalar_is_one_append_point_x_step():
    (op,) = record_ops(Scalar("loss", 7, 0.0, 0.25))
    assert op.mode == APPEND and op.win == "scalar:loss" and op.names == ("loss",)
    message = append_message(op, [item for item in op.items] + [(8, (0.5,))])
    assert message["append"] is True and message["name"] == "loss"
    assert message["data"][0]["x"] == [7, 8] and message["data"][0]["y"] == [0.25, 0.5]
    assert message["opts"]["title"] == "loss" and message["layout"]["title"] == "loss"


def test_nan_scalar_becomes_a_gap_not_invalid_json():
    (op,) = record_ops(Scalar("loss", 1, 0.0, float("nan")))
    assert append_message(op, op.items)["data"][0]["y"] == [None]


def test_scalars_one_window_one_named_trace_per_key():
    ops = record_ops(Scalars("acc", 3, 0.0, {"train": 0.5, "val": 0.25}))
    assert {op.win for op in ops} == {"scalars:acc"}
    assert [op.names for op in ops] == [("train",), ("val",)]
    assert len({op.key for op in ops}) == 2


def test_text_is_escaped_and_never_contains_the_separator():
    (op,) = record_ops(Text("notes", 2, 0.0, "<script>alert(1)</script>\n<br>x"))
    (entry,) = op.items
    assert "<script>" not in entry and "&lt;script&gt;alert(1)&lt;/script&gt;" in entry
    assert TEXT_SEPARATOR not in entry and "&lt;br&gt;" in entry and "<br/>" in entry
    assert entry.startswith("<b>step 2</b>")
    message = append_message(op, [entry, "second"])
    assert message["data"][0] == {"content": entry + TEXT_SEPARATOR + "second", "type": "text"}


def test_escape_text_quotes():
    assert escape_text("a & \"b\" 'c'") == "a &amp; &quot;b&quot; &#x27;c&#x27;"


def test_histogram_bars_and_movement():
    values = np.random.default_rng(0).normal(size=2000)
    trend, bars = record_ops(_histogram(values))
    assert trend.mode == APPEND and trend.names == ("min", "16%", "median", "84%", "max")
    (point,) = trend.items
    low, p16, median, p84, high = point[1]
    assert low == pytest.approx(values.min()) and high == pytest.approx(values.max())
    assert p16 == pytest.approx(np.quantile(values, 0.16), abs=0.1)
    assert median == pytest.approx(np.median(values), abs=0.1)
    assert p84 == pytest.approx(np.quantile(values, 0.84), abs=0.1)
    assert bars.mode == WINDOW and bars.message["data"][0]["type"] == "bar"
    assert sum(bars.message["data"][0]["y"]) == 2000
    # several traces appended together: no name, so the server appends to each in order
    assert "name" not in append_message(trend, trend.items)


def test_bin_bars_cover_the_values():
    record = _histogram([0.0, 1.0, 1.0, 2.0], bins=4)
    centres, widths, counts = bin_bars(record)
    assert counts == [1, 0, 2, 1] and widths == [0.5] * 4  # equal bins are kept as they are
    assert centres == [0.25, 0.75, 1.25, 1.75]
    (centre,), (width,), (count,) = bin_bars(_histogram([3.0] * 5))
    assert centre == 3.0 and count == 5 and width > 0


def test_histogram_bars_have_equal_widths_and_a_normal_sample_looks_symmetric():
    """TensorBoard's bins grow away from zero; drawn as they are, a bell looks like a spike
    between stubs.  The bars are equal-width, and the heights at -x and x agree."""
    values = np.random.default_rng(0).normal(size=20_000)
    centres, widths, counts = map(np.asarray, bin_bars(_histogram(values)))
    assert len(centres) == 30 and np.ptp(widths) == pytest.approx(0, abs=1e-12)
    assert centres[0] - widths[0] / 2 == pytest.approx(values.min())
    assert centres[-1] + widths[-1] / 2 == pytest.approx(values.max())
    assert counts.sum() == pytest.approx(20_000)
    height = counts / widths
    assert abs(centres[np.argmax(height)]) < 0.3
    # the bars follow the (symmetric) bell, bar by bar, and their skewness is about 0
    bell = 20_000 * widths * np.exp(-(centres**2) / 2) / np.sqrt(2 * np.pi)
    assert np.max(np.abs(counts - bell)) < 0.05 * bell.max()
    mean = np.average(centres, weights=counts)
    spread = np.sqrt(np.average((centres - mean) ** 2, weights=counts))
    assert abs(np.average(((centres - mean) / spread) ** 3, weights=counts)) < 0.05
    # and the bars follow the density: about 68% of the mass within one sigma
    inside = counts[np.abs(centres) < 1].sum() / counts.sum()
    assert inside == pytest.approx(0.68, abs=0.06)


def test_bin_percentiles_uniform():
    record = _histogram(np.linspace(0, 1, 10001), bins=100)
    p25, p50, p75 = bin_percentiles(record, [0.25, 0.5, 0.75])
    assert p25 == pytest.approx(0.25, abs=0.01)
    assert p50 == pytest.approx(0.5, abs=0.01)
    assert p75 == pytest.approx(0.75, abs=0.01)


def _png(op) -> np.ndarray:
    from PIL import Image as PILImage

    src = op.message["data"][0]["content"]["src"]
    return np.asarray(PILImage.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))))


def test_small_image_is_enlarged_pixel_for_pixel_and_the_window_fits_it():
    pixels = np.zeros((20, 30, 3), dtype=np.uint8)
    pixels[..., 0] = 255
    pixels[3, 4] = (0, 0, 255)
    (op,) = record_ops(Image("img", 4, 0.0, pixels))
    assert op.message["data"][0]["content"]["caption"] == "img, step 4"
    picture = _png(op)
    scale, pad = READABLE_SIDE // 30, GRID_PADDING
    assert picture.shape == (20 * scale + 2 * pad, 30 * scale + 2 * pad, 3) and scale == 5
    inside = picture[pad:-pad, pad:-pad]
    assert (inside[3 * scale : 4 * scale, 4 * scale : 5 * scale] == (0, 0, 255)).all()
    assert (inside[0, 0] == (255, 0, 0)).all() and (picture[0, 0] == 255).all()
    opts = op.message["opts"]
    assert opts["width"] == picture.shape[1] - 1  # the page draws one pixel wider
    assert opts["height"] >= picture.shape[0] + 40  # room for the caption below
    digit = _png(record_ops(Image("d", 0, 0.0, pixels[:8, :8]))[0])
    assert digit.shape == (160 + 2 * pad, 160 + 2 * pad, 3)
    big = np.zeros((600, 500, 3), dtype=np.uint8)  # never shrunk
    assert _png(record_ops(Image("big", 0, 0.0, big))[0]).shape == (604, 504, 3)


def test_image_grid_has_gaps_between_its_pictures():
    """16 pictures logged as a batch come apart again, 2 pixels of white between them."""
    batch = np.stack([np.full((3, 8, 8), 10 * i + 5, dtype=np.uint8) for i in range(16)])
    with vizlog.Logger("fake") as log:
        log.image("batch", batch, 0)
        (record,) = log.get_backend("fake").records("image")
    assert record.tiles == 16 and record.pixels.shape == (16, 64, 3)  # the writers' grid
    picture = _png(record_ops(record)[0])[..., 0]
    scale, pad = MAX_SIDE // 64, GRID_PADDING  # 80-pixel pictures
    side = 8 * scale + pad
    assert picture.shape == (2 * side + pad, 8 * side + pad)
    for i in range(16):
        row, col = divmod(i, 8)
        top, left = pad + row * side, pad + col * side
        assert (picture[top : top + 8 * scale, left : left + 8 * scale] == 10 * i + 5).all(), i
    assert (picture[[r * side + k for r in range(3) for k in range(pad)]] == 255).all()
    assert (picture[:, [c * side + k for c in range(9) for k in range(pad)]] == 255).all()


def test_pca_keeps_the_main_axis():
    rng = np.random.default_rng(1)
    line = np.outer(rng.normal(size=200), [3.0, 0.0, 4.0]) + rng.normal(scale=0.01, size=(200, 3))
    projected = pca_project(line, 2)
    assert projected.shape == (200, 2)
    assert np.var(projected[:, 0]) > 100 * np.var(projected[:, 1])
    assert pca_project(np.ones((3, 1)), 3).shape == (3, 3)  # fewer features than axes


def test_embedding_traces_per_label_2d_and_3d():
    mat = np.random.default_rng(2).normal(size=(30, 5)).astype(np.float32)
    meta = tuple((str(i % 3), f"n{i}") for i in range(30))
    record = Embedding("emb", 1, 0.0, mat, meta, ("label", "name"))
    (op,) = record_ops(record)
    traces = op.message["data"]
    assert [t["name"] for t in traces] == ["0", "1", "2"]
    assert sum(len(t["x"]) for t in traces) == 30 and traces[0]["text"][0] == "0\tn0"
    (op3,) = record_ops(record, {"embedding_dims": 3})
    assert op3.message["data"][0]["type"] == "scatter3d" and "z" in op3.message["data"][0]


def test_pr_curve_is_a_named_trace_with_ap_in_title():
    fields = pr_curve.pr_curve_fields([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3], 11, None)
    record = PRCurve("pr", 5, 0.0, **fields)
    (op,) = record_ops(record)
    assert op.mode == TRACE and op.names == ("step 5",)
    assert f"AP {record.average_precision:.4f}" in op.message["opts"]["title"]
    update, create = trace_messages(op)
    assert update["append"] is False and update["name"] == "step 5"
    assert create["data"][0]["x"] == list(record.recall[: len(create["data"][0]["x"])])


def test_pr_curve_draws_the_points_tensorboard_draws(tmp_path):
    """No line down to (recall 0, precision 0) at the thresholds where nothing is predicted
    positive: the trace holds exactly the points of TensorBoard's PR CURVES tab."""
    from eventfiles import accumulate
    from tensorboard.plugins.pr_curve.pr_curves_plugin import PrCurvesPlugin
    from tensorboard.util import tensor_util

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 200)
    predictions = np.clip(labels * 0.4 + rng.random(200) * 0.5, 0, 1)
    with vizlog.Logger("tensorboardx", logdir=tmp_path) as log:
        log.pr_curve("pr", labels, predictions, 0, num_thresholds=21)
    (event,) = accumulate(tmp_path).Tensors("pr")
    data = tensor_util.make_ndarray(event.tensor_proto)
    tensorboard = PrCurvesPlugin._make_pr_entry(None, 0, 0.0, data)
    fields = pr_curve.pr_curve_fields(labels, predictions, 21, None)
    (op,) = record_ops(PRCurve("pr", 0, 0.0, **fields))
    trace = op.message["data"][0]
    assert len(trace["x"]) < 21  # the top thresholds predict nothing positive
    assert trace["x"] == pytest.approx(tensorboard["recall"])
    assert trace["y"] == pytest.approx(tensorboard["precision"])
    assert (0.0, 0.0) not in set(zip(trace["x"], trace["y"], strict=True))


def test_graph_tree_totals_and_escaping():
    structure = (("", "Net", 0), ("enc", "Seq<x>", 0), ("enc.0", "Linear", 12), ("head", "L", 3))
    text = graph_html(structure)
    assert "(Net, 15 params)" in text and "(Seq&lt;x&gt;, 12 params)" in text
    assert "<x>" not in text
    (op,) = record_ops(Graph("model", 0, 0.0, b"", structure))
    assert op.mode == WINDOW and op.message["data"][0]["type"] == "text"


def test_module_tree_window_is_sized_to_its_lines():
    """Visdom's default text window (about 290 px high) hid most of a small model's tree."""
    structure = (("", "Net", 0), *((f"layer{i}", "Linear", 10) for i in range(14)))
    (op,) = record_ops(Graph("model", 0, 0.0, b"", structure))
    opts = op.message["opts"]
    assert opts["height"] >= 15 * 20 and opts["width"] >= len("layer13 (Linear, 10 params)") * 8
    huge = (("", "Net", 0), *((f"l{i}", "Linear", 1) for i in range(5000)))
    assert record_ops(Graph("big", 0, 0.0, b"", huge))[0].message["opts"]["height"] <= 900


def test_window_counts_match_what_append_builds():
    (op,) = record_ops(Scalar("loss", 0, 0.0, 1.0))
    window = {"type": "plot", "content": {"data": append_message(op, op.items * 3)["data"]}}
    assert count_for(window_counts(window), op) == 3
    (text_op,) = record_ops(Text("t", 0, 0.0, "a\nb"))
    text_window = {"type": "text", "content": TEXT_SEPARATOR.join(text_op.items * 4)}
    assert count_for(window_counts(text_window), text_op) == 4
    assert count_for(window_counts(None), op) == 0
