"""Bad input: a clear error naming the method and argument, nothing written, logger usable."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from eventfiles import accumulate

import vizlog
from vizlog import VizlogError

BAD_CALLS = [
    ("scalar", lambda log: log.scalar("x", "1.0"), TypeError, r"scalar\(value=...\).*str"),
    ("scalar", lambda log: log.scalar("x", torch.ones(3)), ValueError,
     r"scalar\(value=.*one number"),
    ("scalar", lambda log: log.scalar("x", None), TypeError, r"scalar\(value=...\)"),
    ("scalar", lambda log: log.scalar(3, 1.0), TypeError, r"scalar\(tag=...\)"),
    ("scalar", lambda log: log.scalar("", 1.0), ValueError, r"scalar\(tag=...\).*non-empty"),
    ("scalar", lambda log: log.scalar("x", 1.0, step=1.5), TypeError, r"scalar\(step=...\)"),
    ("scalar", lambda log: log.scalar("x", 1.0, walltime="now"), TypeError, r"walltime"),
    ("scalars", lambda log: log.scalars("m", [1, 2]), TypeError, r"scalars\(tag_value_dict"),
    ("scalars", lambda log: log.scalars("m", {"a": 1, "b": "x"}), TypeError,
     r"scalars\(tag_value_dict\['b'\]"),
    ("scalars", lambda log: log.scalars("m", {}), ValueError, r"empty"),
    ("histogram", lambda log: log.histogram("h", []), ValueError,
     r"histogram\(values=...\).*no values"),
    ("histogram", lambda log: log.histogram("h", [float("nan")] * 3), ValueError,
     r"histogram\(values=...\).*NaN"),
    ("histogram", lambda log: log.histogram("h", ["a"]), TypeError, r"histogram\(values=...\)"),
    ("histogram", lambda log: log.histogram("h", [1.0], bins="nonsense"), ValueError,
     r"histogram\(bins=...\)"),
    ("image", lambda log: log.image("i", np.zeros((5, 6, 7))), ValueError,
     r"image\(img=...\).*fits no image layout.*dataformats"),
    ("image", lambda log: log.image("i", np.zeros((3, 5, 3))), ValueError,
     r"image\(img=...\).*ambiguous.*dataformats"),
    ("image", lambda log: log.image("i", np.zeros(5)), ValueError, r"image\(img=...\)"),
    ("image", lambda log: log.image("i", np.zeros((3, 4, 4)), dataformats="HW"), ValueError,
     r"image\(dataformats=...\)"),
    ("image", lambda log: log.image("i", np.zeros((2, 2, 4, 5))), ValueError,
     r"image\(img=...\).*fits no image layout"),
    ("embedding", lambda log: log.embedding(np.zeros((4, 2)), metadata=["a", "b"]), ValueError,
     r"embedding\(metadata=...\): 2 labels for 4 rows"),
    ("embedding", lambda log: log.embedding(np.zeros(4)), ValueError, r"embedding\(mat=...\)"),
    ("embedding", lambda log: log.embedding(np.zeros((2, 2)), label_img=np.zeros((3, 1, 4, 4))),
     ValueError, r"embedding\(label_img=...\): 3 images for 2 rows"),
    ("embedding", lambda log: log.embedding(np.zeros((2, 2)), metadata=[["a", "b"], ["c", "d"]]),
     ValueError, r"metadata_header"),
    ("pr_curve", lambda log: log.pr_curve("p", [0, 1, 1], [0.2, 0.3]), ValueError,
     r"pr_curve: labels and predictions must have the same length"),
    ("pr_curve", lambda log: log.pr_curve("p", [0, 1], [0.2, 1.3]), ValueError,
     r"pr_curve\(predictions=...\).*\[0, 1\]"),
    ("pr_curve", lambda log: log.pr_curve("p", [0, 2], [0.2, 0.3]), ValueError,
     r"pr_curve\(labels=...\)"),
    ("pr_curve", lambda log: log.pr_curve("p", [0, 1], [0.2, 0.3], num_thresholds=1),
     ValueError, r"num_thresholds"),
    ("text", lambda log: log.text("t", 42), TypeError, r"text\(text=...\).*string"),
    ("graph", lambda log: log.graph("not a model"), TypeError, r"graph\(model=...\)"),
]


@pytest.mark.parametrize("method, call, error, message", BAD_CALLS,
                         ids=[f"{i}-{c[0]}" for i, c in enumerate(BAD_CALLS)])
def test_bad_input_raises_and_writes_nothing(tmp_path, method, call, error, message):
    with vizlog.Logger("tensorboard,fake", logdir=tmp_path) as log:
        log.scalar("before", 1.0, 0)
        with pytest.raises(error, match=message) as info:
            call(log)
        assert isinstance(info.value, VizlogError)
        fake = log.get_backend("fake")
        assert [r.tag for r in fake.calls] == ["before"], "nothing of the bad call recorded"
        log.scalar("after", 2.0, 0)  # still usable
    acc = accumulate(tmp_path)
    assert acc.Tags()["scalars"] == ["before", "after"]
    for kind in ("histograms", "images", "tensors"):
        assert acc.Tags()[kind] == [], kind
    assert not (tmp_path / "projector_config.pbtxt").exists()


def test_nan_scalar_is_logged_with_one_warning(tmp_path):
    with vizlog.Logger("tensorboard,fake", logdir=tmp_path) as log:
        with pytest.warns(RuntimeWarning, match=r"scalar 'loss' is nan at step 1"):
            log.scalar("loss", 1.0, 0)
            log.scalar("loss", float("nan"), 1)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a second NaN of the same tag does not warn again
            log.scalar("loss", float("inf"), 2)
    values = [e.value for e in accumulate(tmp_path).Scalars("loss")]
    assert values[0] == 1.0 and np.isnan(values[1]) and values[2] == np.inf


def test_histogram_leaves_out_nan_with_a_warning(tmp_path):
    with vizlog.Logger("tensorboard", logdir=tmp_path) as log:
        with pytest.warns(RuntimeWarning, match=r"histogram 'h' at step 0: left out 2 NaN"):
            log.histogram("h", [1.0, float("nan"), 2.0, float("inf")])
    (event,) = accumulate(tmp_path).Histograms("h")
    assert event.histogram_value.num == 2
    assert (event.histogram_value.min, event.histogram_value.max) == (1.0, 2.0)


def test_images_outside_range_are_clipped_the_same_everywhere():
    with vizlog.Logger("fake") as log:
        log.image("f", np.array([[-1.0, 0.5, 2.0, np.nan]]))
        log.image("i", np.array([[-5, 100, 300, 255]], dtype=np.int32))
        log.image("b", np.array([[True, False]]))
        f, i, b = (r.pixels[0, :, 0].tolist() for r in log.get_backend("fake").calls)
    assert f == [0, 128, 255, 0]
    assert i == [0, 100, 255, 255]
    assert b == [255, 0]


def test_tensors_with_grad_and_half_precision_are_accepted():
    w = torch.randn(10, requires_grad=True)
    with vizlog.Logger("fake") as log:
        log.scalar("s", (w * 2).sum())
        log.histogram("h", w.half())
        log.histogram("bf", w.to(torch.bfloat16))
        log.image("i", torch.rand(3, 8, 8, dtype=torch.float16))
        fake = log.get_backend("fake")
    assert [r.kind for r in fake.calls] == ["scalar", "histogram", "histogram", "image"]
    assert fake.calls[1].num == 10
