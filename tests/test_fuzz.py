"""Arbitrary input to every Logger method: it is logged, or refused with a clear error.

Each test drives one method of one Logger (TensorBoard + fake) with arbitrary shapes, dtypes,
NaN/Inf, empty and huge values, wrong types and odd tags.  Every call must either log or
raise a ``vizlog.VizlogError`` whose message names an argument of the method.  After every
accepted call the delivery thread must be alive and must not have failed to write it; at
the end the event files load and the logger still logs.
"""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from eventfiles import accumulate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import vizlog
from vizlog import VizlogError

torch = pytest.importorskip("torch")

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples on every run: the suite is never flaky
    suppress_health_check=list(HealthCheck),
)

# ------------------------------------------------------------------------------ strategies

DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint8, np.bool_,
          np.complex64]

arrays = st.sampled_from(DTYPES).flatmap(
    lambda dtype: hnp.arrays(
        dtype, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)
    )
)


def _to_tensor(array: np.ndarray, how: str) -> Any:
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if how == "bfloat16" and tensor.dtype.is_floating_point:
        tensor = tensor.to(torch.bfloat16)
    if how == "grad" and tensor.dtype.is_floating_point:
        tensor = tensor.clone().requires_grad_(True)
    return tensor


tensors = st.builds(_to_tensor, arrays, st.sampled_from(["plain", "bfloat16", "grad"]))
floats = st.floats(allow_nan=True, allow_infinity=True)
junk = st.one_of(
    st.none(), st.text(max_size=5), st.binary(max_size=5), st.just(object()),
    st.dictionaries(st.text(max_size=3), floats, max_size=3), st.just({1, 2}),
    st.complex_numbers(), st.just(torch.nn.Linear(2, 2)),
)
numbers = st.one_of(floats, st.integers(min_value=-(2**80), max_value=2**80), st.booleans(),
                    st.sampled_from([10**400, -(10**400)]))
lists = st.one_of(
    st.lists(floats, max_size=20),
    st.lists(st.lists(floats, max_size=4), max_size=4),  # ragged too
)
#: large inputs: a histogram binned on the delivery thread, a large image, extreme values
huge = st.sampled_from([
    np.random.default_rng(0).normal(size=300_000),
    np.full((3, 300, 400), 1e308),
    np.full((2, 3), -1e308),
    np.arange(100_000, dtype=np.int64) * 10**12,
    np.r_[np.linspace(0, 1, 100_000), 1e15],  # a numpy rule would ask for billions of bins
    np.array([-1e308, 1e308]),
    torch.empty(4, device="meta"),
])
anything = st.one_of(arrays, tensors, numbers, lists, junk, huge)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def mostly(valid: st.SearchStrategy, odd: st.SearchStrategy) -> st.SearchStrategy:
    """Valid three times in four, so that odd values meet otherwise good calls (``one_of``
    would weigh each of the odd strategy's many branches like the valid one)."""
    return st.integers(0, 3).flatmap(lambda i: odd if i == 0 else valid)


#: odd tags: unicode (lone surrogates too), separators, path tricks, NUL, long, empty
tags = mostly(
    st.text(min_size=1, max_size=20),
    st.one_of(
        st.text(st.characters(blacklist_categories=()), max_size=30),
        st.sampled_from(["../../outside", "/etc/passwd", "..", ".", "a/../../b", "C:\\x", " ",
                         "x" * 300, "x" * 5000, "tag\x00nul", "\u202etxt", "\ud800", "a\udfffb",
                         "", "\n", "%2e%2e/x", "tag/with/slashes", "\\\\server\\share"]),
        junk,
    ),
)
#: tags as dictionary keys: a dict cannot have an unhashable key (a dict or a set from junk)
key_tags = tags.filter(_hashable)
steps = mostly(
    st.one_of(st.none(), st.integers(min_value=0, max_value=2**31)),
    st.one_of(
        st.sampled_from([2**63, -(2**63) - 1, 2**70, -1, 1.5, float("nan"), float("inf"), True,
                         "3", np.int64(-5), np.uint64(2**64 - 1), np.float32(2.0),
                         torch.tensor(3), torch.tensor([1, 2]), torch.tensor(2.5)]),
        st.integers(min_value=-(2**70), max_value=2**70), st.floats(), st.text(max_size=3),
    ),
)
walltimes = mostly(st.none(), st.one_of(st.floats(), st.integers(-(2**70), 2**70),
                                         st.text(max_size=3)))


# ------------------------------------------------------------------------------ the check


class Fuzzer:
    """One Logger driven by many examples; checks each call and the state after it."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.log = vizlog.Logger(["tensorboard", "fake"], logdir=logdir)
        self.accepted = 0
        self.refused = 0

    def call(self, method: str, *args: Any, **kwargs: Any) -> None:
        fake = self.log.get_backend("fake")
        before = len(fake.calls)
        for sink in self.log._sinks:  # failures are counted per call, so that they shrink
            sink.failures.total = 0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # NaN and untraceable-model warnings are fine
            try:
                getattr(self.log, method)(*args, **kwargs)
            except VizlogError as exc:
                self.refused += 1
                names = inspect.signature(getattr(vizlog.Logger, method)).parameters
                message = str(exc)
                assert any(name in message for name in names if name != "self"), (
                    f"{method}: the error names no argument: {message!r}"
                )
                assert len(fake.calls) == before, "a refused call must log nothing"
                return
            self.accepted += 1
            self.log.flush()
        failures = [str(w.message) for w in caught if "backend failed" in str(w.message)]
        for sink in self.log._sinks:
            thread = getattr(sink, "_thread", None)
            if thread is not None:
                assert thread.is_alive(), f"{sink.name} delivery thread died"
                assert not sink.failures.total, f"an accepted record was not written: {failures}"

    def finish(self) -> None:
        self.log.scalar("still_works", 1.0, 0)
        self.log.close()
        acc = accumulate(self.logdir)
        assert [e.value for e in acc.Scalars("still_works")] == [1.0]
        outside = [p for p in self.logdir.parent.iterdir() if p != self.logdir]
        assert outside == [], f"written outside the logdir: {outside}"
        assert self.accepted > 0 and self.refused > 0, (self.accepted, self.refused)


@pytest.fixture
def fuzzer(tmp_path):
    fuzz = Fuzzer(tmp_path / "nest" / "run")
    yield fuzz
    fuzz.finish()


# ------------------------------------------------------------------------------ the methods


def test_scalar(fuzzer):
    @SETTINGS
    @given(tag=tags, value=st.one_of(anything, numbers, numbers), step=steps,
           walltime=walltimes)
    def run(tag, value, step, walltime):
        fuzzer.call("scalar", tag=tag, value=value, step=step, walltime=walltime)

    run()


def test_scalars(fuzzer):
    @SETTINGS
    @given(main_tag=tags,
           values=mostly(
               st.dictionaries(st.text(min_size=1, max_size=8), numbers, min_size=1, max_size=4),
               st.one_of(st.dictionaries(key_tags, st.one_of(numbers, anything),
                                         max_size=4),
                         anything)),
           step=steps)
    def run(main_tag, values, step):
        fuzzer.call("scalars", main_tag=main_tag, tag_value_dict=values, step=step)

    run()


def test_histogram(fuzzer):
    bins = st.one_of(st.sampled_from(["tensorflow", "auto", "fd", "sqrt", "bogus"]),
                     st.integers(-2, 50), st.sampled_from([10**12, np.int64(30), 2**40]),
                     arrays, lists, junk)

    @SETTINGS
    @given(tag=tags, values=anything, step=steps, bins=bins)
    def run(tag, values, step, bins):
        fuzzer.call("histogram", tag=tag, values=values, step=step, bins=bins)

    run()


def test_image(fuzzer):
    shapes = st.sampled_from([(8, 9), (3, 8, 9), (8, 9, 1), (2, 3, 8, 9), (2, 8, 9, 4),
                              (4, 8, 9), (1, 1, 1), (5, 1, 7, 7), (1, 2, 3)])
    images = mostly(
        st.sampled_from(DTYPES[:-1]).flatmap(lambda dtype: hnp.arrays(dtype, shapes)),
        st.one_of(anything, st.sampled_from(DTYPES).flatmap(
            lambda dtype: hnp.arrays(dtype, st.sampled_from([(0, 3, 4, 4), (3, 5, 3), (7,)])))),
    )
    formats = mostly(st.none(), st.one_of(
        st.sampled_from(["CHW", "HWC", "HW", "NCHW", "NHWC", "chw", "WH", "CCHW", "XYZ", ""]),
        junk))

    @SETTINGS
    @given(tag=tags, img=images, step=steps, dataformats=formats)
    def run(tag, img, step, dataformats):
        fuzzer.call("image", tag=tag, img=img, step=step, dataformats=dataformats)

    run()


@st.composite
def _consistent_embedding(draw: st.DrawFn) -> dict[str, Any]:
    """Rows of ``mat``, metadata and label images agree (values and dtypes still vary)."""
    rows, dims = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    mat = draw(hnp.arrays(draw(st.sampled_from([np.float32, np.float64, np.int32])),
                          (rows, dims)))
    metadata = draw(st.one_of(
        st.none(),
        st.lists(st.one_of(st.text(max_size=6), st.integers(), st.floats()),
                 min_size=rows, max_size=rows),
    ))
    header = None
    if metadata is not None and draw(st.booleans()):
        metadata = [[str(m), "x"] for m in metadata]
        header = ["label", draw(st.text(max_size=5))]
    label_img = draw(st.one_of(st.none(), hnp.arrays(
        draw(st.sampled_from([np.float32, np.uint8])),
        (rows, draw(st.sampled_from([1, 3])), draw(st.integers(1, 6)), draw(st.integers(1, 6))),
    )))
    return {"mat": mat, "metadata": metadata, "label_img": label_img, "metadata_header": header}


def test_embedding(fuzzer):
    mats = st.one_of(anything, hnp.arrays(np.float32, st.tuples(st.integers(0, 6),
                                                                 st.integers(0, 4))))
    metadata = st.one_of(st.none(), st.lists(st.one_of(st.text(max_size=4), st.integers()),
                                             max_size=7),
                         st.lists(st.lists(st.text(max_size=3), max_size=3), max_size=7), junk)
    label_imgs = st.one_of(st.none(), anything, hnp.arrays(
        np.float32, st.tuples(st.integers(0, 6), st.sampled_from([1, 3]), st.just(4),
                              st.just(4))))
    headers = st.one_of(st.none(), st.lists(st.text(max_size=4), max_size=3), junk)
    odd = st.fixed_dictionaries({"mat": mats, "metadata": metadata, "label_img": label_imgs,
                                 "metadata_header": headers})

    @SETTINGS
    @given(args=mostly(_consistent_embedding(), odd), step=steps, tag=tags)
    def run(args, step, tag):
        fuzzer.call("embedding", step=step, tag=tag, **args)

    run()


class _Raises(torch.nn.Module):
    def forward(self, x):
        raise RuntimeError("no forward for you")


def test_graph(fuzzer):
    models = st.one_of(
        st.sampled_from([torch.nn.Linear(3, 2), _Raises(),
                         torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU())]),
        junk,
    )
    inputs = st.one_of(st.none(), tensors, st.tuples(tensors), st.just(torch.zeros(2, 3)),
                       junk)

    @settings(SETTINGS, max_examples=40)
    @given(model=models, input_to_model=inputs)
    def run(model, input_to_model):
        fuzzer.call("graph", model=model, input_to_model=input_to_model)

    run()


@st.composite
def _consistent_pr(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 30))
    return {
        "labels": draw(st.lists(st.sampled_from([0, 1, True, False, 0.0, 1.0]),
                                min_size=n, max_size=n)),
        "predictions": draw(hnp.arrays(np.float64, n, elements=st.floats(0, 1))),
        "num_thresholds": draw(st.integers(2, 300)),
        "weights": draw(st.one_of(st.none(), st.floats(0, 1e6),
                                  st.lists(st.floats(0, 10), min_size=n, max_size=n))),
    }


def test_pr_curve(fuzzer):
    odd = st.fixed_dictionaries({
        "labels": st.one_of(anything, st.lists(st.sampled_from([0, 1, 2, -1]), max_size=20)),
        "predictions": st.one_of(anything, st.lists(st.floats(), max_size=20)),
        "num_thresholds": st.one_of(st.integers(-3, 300), junk, st.floats(),
                                    st.sampled_from([2**40, 2**31 + 5, np.int64(10**9)])),
        "weights": st.one_of(st.none(), anything),
    })

    @SETTINGS
    @given(tag=tags, args=mostly(_consistent_pr(), odd), step=steps)
    def run(tag, args, step):
        fuzzer.call("pr_curve", tag=tag, step=step, **args)

    run()


def test_text(fuzzer):
    texts = st.one_of(st.text(st.characters(blacklist_categories=())),
                      st.just("<script>alert(1)</script>"), st.just("x" * 100_000), junk)

    @SETTINGS
    @given(tag=tags, text=texts, step=steps, walltime=walltimes)
    def run(tag, text, step, walltime):
        fuzzer.call("text", tag=tag, text=text, step=step, walltime=walltime)

    run()


values = st.one_of(st.booleans(), st.text(max_size=8), floats, st.integers(-(2**70), 2**70),
                 st.none(), tensors, junk, st.just(len))


def test_hparams(fuzzer):
    hparam_dicts = mostly(st.dictionaries(st.text(min_size=1, max_size=6), values, max_size=4),
                          st.one_of(st.dictionaries(key_tags, values, max_size=3), anything))
    metric_dicts = st.one_of(st.none(), st.dictionaries(key_tags, st.one_of(st.none(), numbers,
                                                                        anything), max_size=3),
                             anything)
    run_names = st.one_of(st.none(), tags, st.sampled_from(["a/b", "../x", "/abs", "a//b",
                                                            "./x", "C:x", "a\\b"]))
    domains = st.one_of(st.none(), st.dictionaries(st.text(max_size=4),
                                                   st.lists(values, max_size=3), max_size=2),
                        junk)

    @SETTINGS
    @given(hparam_dict=hparam_dicts, metric_dict=metric_dicts, run_name=run_names, step=steps,
           domains=domains)
    def run(hparam_dict, metric_dict, run_name, step, domains):
        fuzzer.call("hparams", hparam_dict=hparam_dict, metric_dict=metric_dict,
                    run_name=run_name, step=step, hparam_domain_discrete=domains)

    run()


def test_audio(fuzzer):
    sounds = mostly(hnp.arrays(np.float32, st.sampled_from([(50,), (1, 40), (30, 2), (20, 1)]),
                               elements=st.floats(-2, 2, width=32)),
                    anything)
    rates = mostly(st.sampled_from([44100, 8000, 16000.0]),
                   st.one_of(st.integers(-5, 2**40), st.floats(), junk))

    @SETTINGS
    @given(tag=tags, snd_tensor=sounds, step=steps, sample_rate=rates, walltime=walltimes)
    def run(tag, snd_tensor, step, sample_rate, walltime):
        fuzzer.call("audio", tag=tag, snd_tensor=snd_tensor, step=step,
                    sample_rate=sample_rate, walltime=walltime)

    run()


def test_video(fuzzer):
    shapes = st.sampled_from([(1, 2, 3, 4, 4), (3, 2, 1, 5, 3), (2, 3, 4, 4), (1, 1, 2, 4, 4),
                              (2, 0, 3, 4, 4), (4, 4)])
    videos = mostly(st.sampled_from([np.uint8, np.float32, np.int64, np.bool_]).flatmap(
        lambda dtype: hnp.arrays(dtype, shapes)), anything)
    formats = mostly(st.just("NTCHW"), st.one_of(st.sampled_from(["NTHWC", "TCHW", "ntchw",
                                                                  "NNCHW", ""]), junk))

    @SETTINGS
    @given(tag=tags, vid_tensor=videos, step=steps, fps=st.one_of(st.floats(), st.integers(),
                                                                   junk),
           dataformats=formats)
    def run(tag, vid_tensor, step, fps, dataformats):
        fuzzer.call("video", tag=tag, vid_tensor=vid_tensor, step=step, fps=fps,
                    dataformats=dataformats)

    run()


def test_mesh(fuzzer):
    points = mostly(hnp.arrays(np.float64, st.sampled_from([(1, 4, 3), (4, 3), (2, 3, 3)])),
                    anything)
    faces = st.one_of(st.none(), hnp.arrays(np.int64, st.sampled_from([(1, 2, 3), (2, 3)]),
                                            elements=st.integers(-1, 5)), anything)
    configs = st.one_of(st.none(), st.dictionaries(st.text(max_size=3), floats, max_size=2),
                        junk)

    @SETTINGS
    @given(tag=tags, vertices=points, colors=st.one_of(st.none(), points), faces=faces,
           config_dict=configs, step=steps)
    def run(tag, vertices, colors, faces, config_dict, step):
        fuzzer.call("mesh", tag=tag, vertices=vertices, colors=colors, faces=faces,
                    config_dict=config_dict, step=step)

    run()


def test_custom_scalars(fuzzer):
    charts = st.tuples(st.sampled_from(["Multiline", "Margin", "margin", "Pie", ""]),
                       st.one_of(st.lists(tags, max_size=4), anything))
    valid = st.dictionaries(st.text(min_size=1, max_size=5), st.dictionaries(
        st.text(min_size=1, max_size=5),
        st.one_of(st.tuples(st.just("Multiline"), st.lists(st.text(min_size=1, max_size=5),
                                                           min_size=1, max_size=3)),
                  st.tuples(st.just("Margin"), st.lists(st.text(min_size=1, max_size=5),
                                                        min_size=3, max_size=3))),
        min_size=1, max_size=2), min_size=1, max_size=2)
    layouts = mostly(valid, st.one_of(st.dictionaries(key_tags, st.one_of(
        st.dictionaries(key_tags, charts, max_size=2), junk), max_size=2), anything))

    @SETTINGS
    @given(layout=layouts)
    def run(layout):
        fuzzer.call("custom_scalars", layout=layout)

    run()


def test_histogram_raw(fuzzer):
    arrays_or_lists = st.one_of(lists, arrays, st.lists(st.floats(0, 10), min_size=2,
                                                        max_size=2))

    valid = st.tuples(st.lists(st.floats(0, 100), min_size=5, max_size=5),
                      st.just([1.0, 2.0, 3.0]), st.lists(st.integers(0, 9), min_size=3,
                                                           max_size=3))
    odd = st.tuples(st.lists(st.one_of(numbers, anything), min_size=5, max_size=5),
                    arrays_or_lists, arrays_or_lists)

    @SETTINGS
    @given(tag=tags, args=mostly(valid, odd), step=steps)
    def run(tag, args, step):
        stats, limits, counts = args
        fuzzer.call("histogram_raw", tag=tag, min=stats[0], max=stats[1], num=stats[2],
                    sum=stats[3], sum_squares=stats[4], bucket_limits=limits,
                    bucket_counts=counts, step=step)

    run()


def test_pr_curve_raw(fuzzer):
    curve = st.lists(st.floats(0, 100), min_size=3, max_size=3)
    odd = st.lists(st.one_of(curve, anything), min_size=6, max_size=6)

    @SETTINGS
    @given(tag=tags, curves=mostly(st.lists(curve, min_size=6, max_size=6), odd), step=steps,
           num_thresholds=mostly(st.just(3), st.one_of(st.integers(-2, 200), junk)))
    def run(tag, curves, step, num_thresholds):  # valid curves need num_thresholds == 3
        fuzzer.call("pr_curve_raw", tag, *curves, step=step, num_thresholds=num_thresholds)

    run()


def test_tensorboard_event(fuzzer):
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary

    protos = st.one_of(
        st.builds(lambda tag, v: Summary(value=[Summary.Value(tag=tag, simple_value=v)]),
                  st.text(max_size=5), st.floats(width=32)),
        st.builds(lambda s: Event(step=s, file_version="brain.Event:2"),
                  st.integers(0, 2**40)),
        anything)

    @SETTINGS
    @given(event=protos, step=steps, walltime=walltimes)
    def run(event, step, walltime):
        fuzzer.call("tensorboard_event", event=event, step=step, walltime=walltime)

    run()


def test_figure(fuzzer):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    def small_figure(width: float) -> Any:
        figure = plt.figure(figsize=(width, 1), dpi=20)
        plt.plot([0, 1])
        return figure

    figures = st.one_of(st.builds(small_figure, st.sampled_from([1, 2])),
                        st.lists(st.builds(small_figure, st.sampled_from([1, 2])), max_size=3),
                        anything)

    @settings(SETTINGS, max_examples=40)
    @given(tag=tags, figure=figures, step=steps, close=st.one_of(st.booleans(), junk))
    def run(tag, figure, step, close):
        fuzzer.call("figure", tag=tag, figure=figure, step=step, close=close)

    run()
    plt.close("all")


@pytest.mark.parametrize("backend", ["tensorboard", "tensorboardx", "visdom"])
def test_unwritable_logdir_is_refused_at_construction(tmp_path, backend):
    import threading

    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    threads = threading.active_count()
    with pytest.raises(VizlogError, match=r"Logger\(logdir=...\): cannot write to .*a-file"):
        options = {"server": "127.0.0.1:1"} if backend == "visdom" else {}
        vizlog.Logger(backend, logdir=blocker / "run", **options)
    assert threading.active_count() == threads  # nothing started, nothing left behind
