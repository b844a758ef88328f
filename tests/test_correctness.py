"""Regression tests for defects found in review: each fails on the code before its fix."""

from __future__ import annotations

import io
import os
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from eventfiles import accumulate
from PIL import Image as PILImage

import vizlog
from vizlog import VizlogError
from vizlog.concepts import common
from vizlog.export import scalar_rows

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def test_g_backend_options_accepted_on_every_rank(tmp_path: Path, monkeypatch) -> None:
    for rank in ("0", "1"):
        monkeypatch.setenv("RANK", rank)
        with vizlog.Logger("tensorboard", logdir=tmp_path / rank, flush_secs=5) as log:
            assert log.backends == (("tensorboard",) if rank == "0" else ())
        with pytest.raises(TypeError, match="unknown option"):
            vizlog.Logger("tensorboard", logdir=tmp_path / rank, server="http://x")


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_k_image_record_owns_its_pixels(tmp_path: Path, kind: str) -> None:
    buf = np.zeros((8, 8, 3), np.uint8) if kind == "numpy" else torch.zeros(8, 8, 3,
                                                                          dtype=torch.uint8)
    with vizlog.Logger("tensorboard,fake", logdir=tmp_path) as log:
        log.image("frame", buf, 0, dataformats="HWC")
        record = log.get_backend("fake").records("image")[0]
        assert not np.shares_memory(record.pixels, np.asarray(buf))
        buf[:] = 255  # the caller reuses its buffer before the sender encodes the PNG
    encoded = accumulate(tmp_path).Images("frame")[0].encoded_image_string
    assert np.asarray(PILImage.open(io.BytesIO(encoded))).max() == 0


def test_k_embedding_label_images_are_copied(tmp_path: Path) -> None:
    labels = np.zeros((4, 6, 6, 3), np.uint8)
    with vizlog.Logger("fake", logdir=tmp_path) as log:
        log.embedding(np.eye(4), label_img=labels)
        record = log.get_backend("fake").records("embedding")[0]
    assert not np.shares_memory(record.label_img, labels)


def test_a_reduce_leaves_the_callers_tensor_alone() -> None:
    import torch.distributed as dist

    from vizlog import distributed
    from vizlog.servers import free_port

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0,
                            world_size=1)
    try:
        value = torch.tensor(3.0, dtype=torch.float64, requires_grad=True) * 1
        version = value._version
        out = distributed.all_reduce(value, "sum")
        assert float(out) == 3.0
        assert value._version == version and float(value.detach()) == 3.0
        assert out.data_ptr() != value.data_ptr()
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("backend", ["tensorboard", "tensorboardx"])
def test_c_one_failing_record_costs_only_itself(tmp_path: Path, backend: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log = vizlog.Logger(backend, logdir=tmp_path)
        log.scalar("before", 1.0, 0)
        log.flush()
        log.embedding(np.random.rand(10, 4), tag="é" * 150)  # a 1800-byte directory name
        for step in range(100):
            log.scalar("after", float(step), step)
        log.close()
    rows = scalar_rows(tmp_path)
    assert sum(r["tag"] == "after" for r in rows) == 100
    assert sum(r["tag"] == "before" for r in rows) == 1
    assert not [w for w in caught if "failed" in str(w.message)]  # long tags are written too


def test_c_failures_are_counted_and_reported_again(tmp_path: Path) -> None:
    from vizlog.backends.base import Backend
    from vizlog.delivery import BackgroundDelivery
    from vizlog.records import Scalar

    class Flaky(Backend):
        name = "flaky"

        def __init__(self) -> None:
            super().__init__("")
            self.written: list[int] = []

        def write(self, record: Scalar) -> None:  # type: ignore[override]
            if record.step % 10 == 3:
                raise OSError("refused")
            self.written.append(record.step)

    backend = Flaky()
    delivery = BackgroundDelivery(backend)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in range(100):
            delivery.write(Scalar("t", step, 0.0, 1.0))
        delivery.close()
    assert len(backend.written) == 90
    assert delivery.failures.total == 10
    messages = [str(w.message) for w in caught if "flaky" in str(w.message)]
    assert messages and "10 record(s) in all" in messages[-1]


def test_j_one_tag_policy_on_both_tensorboard_backends(tmp_path: Path) -> None:
    tag = "/val set (fold 1)"
    seen = {}
    for backend in ("tensorboard", "tensorboardx"):
        with vizlog.Logger(backend, logdir=tmp_path / backend) as log:
            log.scalar(tag, 1.0, 0)
            log.histogram(tag, np.arange(10.0), 0)
            log.image(tag, np.zeros((3, 8, 8)), 0)
        tags = accumulate(tmp_path / backend).Tags()
        seen[backend] = {kind: tags[kind] for kind in ("scalars", "histograms", "images")}
    assert seen["tensorboard"] == seen["tensorboardx"]
    assert all(found == [tag] for found in seen["tensorboardx"].values())


def test_d_projector_config_parses_with_any_tag_and_two_loggers(tmp_path: Path) -> None:
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    first = vizlog.Logger("tensorboard", logdir=tmp_path)
    second = vizlog.Logger("tensorboardx", logdir=tmp_path)
    first.embedding(np.eye(3), tag='line\nbreak "quoted"')
    second.embedding(np.eye(3), tag="other")
    first.embedding(np.eye(3), step=1, tag="third")
    first.close()
    second.close()
    config = ProjectorConfig()
    text_format.Parse((tmp_path / "projector_config.pbtxt").read_text("utf-8"), config)
    names = sorted(e.tensor_name for e in config.embeddings)
    assert names == sorted(['line\nbreak "quoted":00000', "other:00000", "third:00001"])
    for entry in config.embeddings:
        assert (tmp_path / entry.tensor_path).exists()


def _force_device_path(monkeypatch) -> None:
    """The CUDA path runs on any tensor; here it runs on CPU tensors."""
    monkeypatch.setattr(common, "is_cuda", lambda value: common.is_torch_tensor(value))


def test_f_device_path_warns_about_nan(monkeypatch) -> None:
    _force_device_path(monkeypatch)
    with vizlog.Logger("fake") as log, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log.scalar("loss", torch.tensor(float("nan")), 0)
        log.histogram("w", torch.tensor([1.0, float("inf"), 2.0]), 0)
        log.histogram("all-nan", torch.full((5,), float("nan")), 0)
        log.flush()
        fake = log.get_backend("fake")
        assert [r.tag for r in fake.records("histogram")] == ["w"]
    text = " ".join(str(w.message) for w in caught)
    assert "'loss' is nan" in text
    assert "left out 1 NaN/infinite" in text
    assert "'all-nan' at step 0 has no finite values" in text


@pytest.mark.parametrize("bins", [np.int64(30), 30, "sqrt", np.linspace(-3, 3, 7)])
def test_b_any_bins_on_the_device_path(monkeypatch, bins) -> None:
    _force_device_path(monkeypatch)
    values = torch.randn(1000)
    with vizlog.Logger("fake") as log:
        log.histogram("w", values, 0, bins=bins)
        log.flush()
        record = log.get_backend("fake").records("histogram")[0]
    expected, _ = np.histogram(values.numpy().astype(np.float64),
                               bins=bins if not isinstance(bins, np.integer) else int(bins))
    assert record.bucket_counts.sum() == expected.sum()


def test_l_call_racing_close_is_delivered_or_reported(tmp_path: Path, monkeypatch) -> None:
    from vizlog.concepts import image

    slow = image.image_grid

    def slow_pixels(*args, **kwargs):
        time.sleep(0.3)
        return slow(*args, **kwargs)

    monkeypatch.setattr(image, "image_grid", slow_pixels)
    log = vizlog.Logger("tensorboard", logdir=tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        thread = threading.Thread(target=lambda: log.image("img", np.zeros((8, 8, 3)), 0))
        thread.start()
        time.sleep(0.1)
        log.close()
        thread.join()
    written = "img" in accumulate(tmp_path).Tags()["images"]
    warned = any("after the Logger was closed" in str(w.message) for w in caught)
    assert written != warned  # exactly one of the two, never silence


@pytest.mark.parametrize("size", [0, -1, "10", None, 1.5, 10**9])
def test_queue_size_checked_at_construction(tmp_path: Path, size) -> None:
    with pytest.raises(VizlogError, match="queue_size"):
        vizlog.Logger("tensorboard", logdir=tmp_path, queue_size=size)
    assert not list(tmp_path.iterdir())


def test_small_queue_does_not_throttle(tmp_path: Path) -> None:
    with vizlog.Logger("tensorboard", logdir=tmp_path, queue_size=10) as log:
        start = time.perf_counter()
        for step in range(2000):
            log.scalar("x", float(step), step)
        elapsed = time.perf_counter() - start
    # before: a full queue waited for the sender's 0.1 s poll, about 100 calls per second
    assert elapsed < 10.0
    assert len(scalar_rows(tmp_path)) == 2000


@pytest.mark.parametrize("call", [
    lambda log: log.scalar("s", 10**400, 0),
    lambda log: log.scalars("m", {"a": 10**400}, 0),
    lambda log: log.scalar("s", torch.empty(1, device="meta"), 0),
    lambda log: log.histogram("h", torch.empty(3, device="meta"), 0),
    lambda log: log.histogram("h", np.array([-1e308, 1e308]), 0, bins=10),
    lambda log: log.histogram("h", np.array([1e17]), 0, bins=5),
    lambda log: log.histogram("h", np.r_[np.linspace(0, 1, 1000), 1e15], 0, bins="fd"),
    lambda log: log.histogram("h", np.r_[np.linspace(0, 1, 100_000), 1e15], 0, bins="fd"),
    lambda log: log.histogram("h", np.ones(5), 0, bins=10**12),
    lambda log: log.histogram("h", np.ones(5), 0, bins=np.linspace(0, 1, 200_000)),
    lambda log: log.pr_curve("p", [0, 1], [0.1, 0.2], 0, num_thresholds=2**40),
    lambda log: log.pr_curve("p", [0, 1], [0.1, 0.2], 0, num_thresholds=2**31 + 5),
])
def test_inputs_that_ask_for_too_much_are_refused_at_the_call(tmp_path: Path, call) -> None:
    with vizlog.Logger("tensorboard,fake", logdir=tmp_path) as log:
        with pytest.raises(VizlogError):
            call(log)
        assert log.get_backend("fake").calls == []


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_n_cuda_logging_never_synchronises() -> None:
    values = torch.randn(1_000_000, device="cuda")
    with vizlog.Logger("fake") as log:
        torch.cuda.set_sync_debug_mode("error")
        try:
            for step in range(3):
                log.scalar("loss", values[0], step)
                log.histogram("w", values, step)
                log.histogram("w-edges", values, step, bins=np.linspace(-3, 3, 31))
                log.histogram("w-count", values, step, bins=np.int64(30))
        finally:
            torch.cuda.set_sync_debug_mode("default")
        log.flush()
        fake = log.get_backend("fake")
        assert len(fake.records("histogram")) == 9
    assert os.environ.get("CUDA_LAUNCH_BLOCKING") != "1"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_f_cuda_nan_warnings() -> None:
    with vizlog.Logger("fake") as log, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log.scalar("loss", torch.tensor(float("nan"), device="cuda"), 0)
        log.histogram("all-nan", torch.full((5,), float("nan"), device="cuda"), 0)
        log.flush()
    text = " ".join(str(w.message) for w in caught)
    assert "'loss' is nan" in text and "'all-nan' at step 0 has no finite values" in text


@pytest.mark.parametrize(("name", "bad", "good"), [
    ("VIZLOG_FLUSH_SECS", ["0", "-1", "nan", "inf", "soon"], "0.5"),
    ("VIZLOG_SYSTEM_INTERVAL", ["0.5", "nan", "inf", "often"], "1"),
])
def test_seconds_from_the_environment_are_checked(monkeypatch, name, bad, good) -> None:
    from vizlog import config

    read = config.flush_secs if name == "VIZLOG_FLUSH_SECS" else config.system_interval
    for value in bad:
        monkeypatch.setenv(name, value)
        with pytest.raises(VizlogError, match=name):
            read()
    monkeypatch.setenv(name, good)
    assert read() == float(good)
