"""System metrics: ``Logger(system_metrics=True)`` samples the machine on its own thread."""

from __future__ import annotations

import sys
import threading
import time
import warnings

import pytest

pytest.importorskip("psutil")

import vizlog  # noqa: E402
from vizlog import config  # noqa: E402
from vizlog.errors import VizlogTypeError, VizlogValueError  # noqa: E402
from vizlog.system_metrics import GpuReader  # noqa: E402

HOST_TAGS = {"system/cpu_percent", "system/memory_percent", "system/memory_used_gib",
             "system/process_rss_gib"}


def _wait_for_samples(fake, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while len(fake.scalars("system/cpu_percent")) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def test_series_appear_at_the_interval_in_tensorboard_too(tmp_path):
    from runlogs import read_run

    log = vizlog.Logger("tensorboard,fake", logdir=tmp_path, system_metrics=True,
                        system_interval=1)
    fake = log.get_backend("fake")
    started = time.time()
    _wait_for_samples(fake, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "after the Logger was closed" from the sampler
        log.close()

    host = {r.tag for r in fake.calls if r.tag in HOST_TAGS}
    assert host == HOST_TAGS
    # x: whole seconds since the Logger started, one sample per interval
    samples = fake.records("scalar", "system/cpu_percent")
    assert [r.step for r in samples] == [1, 2]
    assert samples[0].walltime - started == pytest.approx(1.0, abs=0.5)
    assert samples[1].walltime - samples[0].walltime == pytest.approx(1.0, abs=0.5)
    (rss,) = {r.value for r in fake.records("scalar", "system/process_rss_gib")[-1:]}
    assert 0.01 < rss < 64  # this process: tens of MiB to a few GiB
    for r in fake.records("scalar", "system/memory_percent") + samples:
        assert 0 <= r.value <= 100  # memory in use; CPU: all cores together
    if GpuReader.open() is None:  # no NVIDIA GPU here: the GPU tags are simply absent
        assert not [r.tag for r in fake.calls if r.tag.startswith("system/gpu")]
    assert not any(t.name == "vizlog-system" for t in threading.enumerate())  # stopped
    assert read_run(tmp_path).steps("system/cpu_percent") == [1, 2]


def test_sampling_happens_off_the_training_thread(monkeypatch):
    import psutil

    seen: list[str] = []
    real = psutil.cpu_percent

    def spy(*args, **kwargs):
        seen.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(psutil, "cpu_percent", spy)
    log = vizlog.Logger("fake", logdir="unused", system_metrics=True, system_interval=1)
    _wait_for_samples(log.get_backend("fake"), 1)
    log.close()
    assert seen and set(seen) == {"vizlog-system"}


def test_environment_switches_it_on(monkeypatch):
    monkeypatch.setenv("VIZLOG_SYSTEM_METRICS", "1")
    monkeypatch.setenv("VIZLOG_SYSTEM_INTERVAL", "1.5")
    log = vizlog.Logger("fake", logdir="unused")
    assert log._sampler is not None and log._sampler.interval == 1.5
    log.close()
    assert vizlog.Logger("fake", logdir="unused", system_metrics=False)._sampler is None
    monkeypatch.delenv("VIZLOG_SYSTEM_METRICS")
    assert vizlog.Logger("fake", logdir="unused")._sampler is None  # off by default
    assert "VIZLOG_SYSTEM_METRICS" in config.ENVIRONMENT_VARIABLES
    assert "VIZLOG_SYSTEM_INTERVAL" in config.ENVIRONMENT_VARIABLES


@pytest.mark.parametrize(("kwargs", "env", "error", "match"), [
    ({"system_metrics": "yes"}, {}, VizlogTypeError, r"Logger\(system_metrics=...\)"),
    ({"system_metrics": True, "system_interval": 0.5}, {}, VizlogValueError,
     r"Logger\(system_interval=...\): expected seconds >= 1"),
    ({"system_metrics": True, "system_interval": "10"}, {}, VizlogTypeError,
     r"system_interval"),
    ({}, {"VIZLOG_SYSTEM_METRICS": "maybe"}, VizlogValueError, "VIZLOG_SYSTEM_METRICS"),
    ({"system_metrics": True}, {"VIZLOG_SYSTEM_INTERVAL": "0"}, VizlogValueError,
     "VIZLOG_SYSTEM_INTERVAL"),
])
def test_bad_settings_raise_before_anything_starts(monkeypatch, kwargs, env, error, match):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    before = threading.active_count()
    with pytest.raises(error, match=match):
        vizlog.Logger("fake", logdir="unused", **kwargs)
    assert threading.active_count() == before


def test_without_psutil_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)
    with pytest.raises(ImportError, match=r'pip install "vizlog\[system\]"'):
        vizlog.Logger("fake", logdir="unused", system_metrics=True)


def test_other_ranks_do_not_sample(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    log = vizlog.Logger("fake", logdir="unused", system_metrics=True)
    assert log._sampler is None


@pytest.mark.cuda
@pytest.mark.skipif(GpuReader.open() is None, reason="needs an NVIDIA GPU and its driver")
def test_gpu_metrics_on_a_gpu_machine():
    reader = GpuReader.open()
    assert reader is not None
    try:
        values = reader.read()
    finally:
        reader.close()
    for tag in ("utilization_percent", "memory_used_gib", "memory_percent", "temperature_c"):
        assert f"system/gpu0/{tag}" in values
    assert 0 <= values["system/gpu0/utilization_percent"] <= 100
    assert 0 < values["system/gpu0/memory_percent"] <= 100
    assert 10 < values["system/gpu0/temperature_c"] < 110
    if "system/gpu0/power_w" in values:
        assert 1 < values["system/gpu0/power_w"] < 2000
    log = vizlog.Logger("fake", logdir="unused", system_metrics=True, system_interval=1)
    _wait_for_samples(log.get_backend("fake"), 1)
    log.close()
    assert log.get_backend("fake").scalars("system/gpu0/memory_used_gib")
