"""The pure half of the Visdom backend: records to window operations and messages."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest

from vizlog.backends.visdom.payloads import (
    APPEND,
    TEXT_SEPARATOR,
    TRACE,
    WINDOW,
    append_message,
    bin_bars,
    bin_percentiles,
    count_for,
    escape_text,
    graph_html,
    pca_project,
    record_ops,
    trace_messages,
    window_counts,
)
from vizlog.concepts import histogram, pr_curve
from vizlog.records import Embedding, Graph, Histogram, Image, PRCurve, Scalar, Scalars, Text


def _histogram(values, step=1, bins="tensorflow"):
    return Histogram(tag="w", step=step, walltime=0.0, **histogram.histogram_fields(values, bins))


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
    assert sum(counts) == 4 and all(w > 0 for w in widths)
    assert min(centres) > -0.01 and max(centres) < 2.01


def test_bin_percentiles_uniform():
    record = _histogram(np.linspace(0, 1, 10001), bins=100)
    p25, p50, p75 = bin_percentiles(record, [0.25, 0.5, 0.75])
    assert p25 == pytest.approx(0.25, abs=0.01)
    assert p50 == pytest.approx(0.5, abs=0.01)
    assert p75 == pytest.approx(0.75, abs=0.01)


def test_image_png_has_the_record_size():
    pixels = np.zeros((20, 30, 3), dtype=np.uint8)
    pixels[..., 0] = 255
    (op,) = record_ops(Image("img", 4, 0.0, pixels))
    content = op.message["data"][0]["content"]
    assert content["caption"] == "img, step 4"
    from PIL import Image as PILImage

    png = base64.b64decode(content["src"].split(",", 1)[1])
    picture = PILImage.open(io.BytesIO(png))
    assert picture.size == (30, 20)
    assert picture.getpixel((0, 0))[:3] == (255, 0, 0)


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
    assert create["data"][0]["x"] == list(record.recall)


def test_graph_tree_totals_and_escaping():
    structure = (("", "Net", 0), ("enc", "Seq<x>", 0), ("enc.0", "Linear", 12), ("head", "L", 3))
    text = graph_html(structure)
    assert "(Net, 15 params)" in text and "(Seq&lt;x&gt;, 12 params)" in text
    assert "<x>" not in text
    (op,) = record_ops(Graph("model", 0, 0.0, b"", structure))
    assert op.mode == WINDOW and op.message["data"][0]["type"] == "text"


def test_window_counts_match_what_append_builds():
    (op,) = record_ops(Scalar("loss", 0, 0.0, 1.0))
    window = {"type": "plot", "content": {"data": append_message(op, op.items * 3)["data"]}}
    assert count_for(window_counts(window), op) == 3
    (text_op,) = record_ops(Text("t", 0, 0.0, "a\nb"))
    text_window = {"type": "text", "content": TEXT_SEPARATOR.join(text_op.items * 4)}
    assert count_for(window_counts(text_window), text_op) == 4
    assert count_for(window_counts(None), op) == 0
