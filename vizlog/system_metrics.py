"""System metrics: CPU, memory and NVIDIA GPUs, sampled on a background thread.

``Logger(system_metrics=True)`` (or ``VIZLOG_SYSTEM_METRICS=1``) starts one sampler thread per
Logger.  Every ``system_interval`` seconds it reads the machine's state and logs it through the
Logger's own ``scalar`` calls, under ``system/`` tags, so every backend shows it like any other
series.  The training thread never runs any of this: all reading (psutil, NVML) happens on the
sampler thread, and the only shared thing is the Logger's short critical section per call.

The x axis is time, not the training step: ``step`` is the whole number of seconds since the
Logger started (and the walltime is the real time of the sample).  The sampler cannot know the
training step without asking the training thread, and frameworks count steps differently
(batches, optimizer steps, epochs); seconds since start are the same on every backend, and
line up with TensorBoard's "Relative" time axis.

GPU metrics come from NVML (``nvidia-ml-py``) for every NVIDIA GPU the driver reports, indexed
as NVML indexes them (``CUDA_VISIBLE_DEVICES`` does not apply to NVML).  Without a GPU, a
driver or ``nvidia-ml-py``, the GPU tags are simply absent; a metric a GPU does not support
(power on some boards) is left out for that GPU.
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from vizlog import config
from vizlog.errors import VizlogTypeError, VizlogValueError

GIB = float(1 << 30)

Reading = dict[str, float]


class ScalarLogger(Protocol):
    def scalar(self, tag: str, value: Any, step: int | None = None,
               walltime: float | None = None) -> None: ...


def resolve(enabled: Any, interval: Any) -> float | None:
    """The sampling interval in seconds when system metrics are on, else None.

    ``None`` arguments read ``VIZLOG_SYSTEM_METRICS`` / ``VIZLOG_SYSTEM_INTERVAL``.  Checked on
    every rank, so a setting that fails fails everywhere, not only on rank 0.
    """
    if enabled is None:
        enabled = config.system_metrics()
    elif not isinstance(enabled, bool):
        raise VizlogTypeError(
            f"Logger(system_metrics=...): expected True or False, got {type(enabled).__name__}"
        )
    if interval is None:
        seconds = config.system_interval()
    else:
        seconds = check_interval(interval, "Logger(system_interval=...)")
    if not enabled:
        return None
    if importlib.util.find_spec("psutil") is None:
        raise ImportError(
            "system metrics need the 'psutil' package, which is not installed: "
            'pip install "vizlog[system]"'
        )
    return seconds


def check_interval(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise VizlogTypeError(f"{where}: expected seconds (a number), got {type(value).__name__}")
    seconds = float(value)
    if not (math.isfinite(seconds) and seconds >= config.MIN_SYSTEM_INTERVAL):
        raise VizlogValueError(
            f"{where}: expected seconds >= {config.MIN_SYSTEM_INTERVAL:g}, got {value!r}"
        )
    return seconds


class SystemSampler:
    """Logs a reading of the machine every ``interval`` seconds until ``stop()``."""

    def __init__(self, log: ScalarLogger, interval: float) -> None:
        self._log = log
        self.interval = interval
        #: readings logged so far (read by tests and the benchmark)
        self.samples = 0
        self._pid = os.getpid()
        self._stop = threading.Event()
        # held while a sample is being logged, so that stop() returns only once no sample
        # can reach the Logger any more (a close() right after it then warns about nothing)
        self._emitting = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="vizlog-system", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if os.getpid() != self._pid:
            return  # a forked child: the thread (and perhaps the lock's owner) is not here
        self._stop.set()
        if threading.current_thread() is self._thread:
            return
        if self._emitting.acquire(timeout=timeout):
            self._emitting.release()
        self._thread.join(timeout)

    def _run(self) -> None:
        readers = [read_host()]
        gpus = GpuReader.open()
        if gpus is not None:
            readers.append(gpus.read)
        start = time.monotonic()
        slot = 1
        try:
            while not self._stop.wait(max(0.0, start + slot * self.interval - time.monotonic())):
                step = int(round(slot * self.interval))
                values: Reading = {}
                for read in readers:
                    try:
                        values.update(read())
                    except Exception:  # noqa: BLE001 - a failed reading must not end sampling
                        pass
                with self._emitting:
                    if self._stop.is_set():
                        break
                    wall = time.time()
                    for tag, value in values.items():
                        self._log.scalar(tag, value, step, wall)
                    self.samples += 1
                # a sampler held up (a busy machine) skips the slots it missed
                slot = max(slot + 1, int((time.monotonic() - start) / self.interval) + 1)
        finally:
            if gpus is not None:
                gpus.close()


def read_host() -> Callable[[], Reading]:
    """CPU utilisation (since the previous reading), system memory and this process's RSS."""
    import psutil

    process = psutil.Process()
    psutil.cpu_percent(interval=None)  # the first call only starts the measurement

    def read() -> Reading:
        memory = psutil.virtual_memory()
        return {
            "system/cpu_percent": float(psutil.cpu_percent(interval=None)),
            "system/memory_percent": float(memory.percent),
            "system/memory_used_gib": (memory.total - memory.available) / GIB,
            "system/process_rss_gib": process.memory_info().rss / GIB,
        }

    return read


class GpuReader:
    """Utilisation, memory, temperature and power of every NVIDIA GPU, through NVML."""

    def __init__(self, nvml: Any, handles: list[Any]) -> None:
        self._nvml = nvml
        self._handles = handles
        self._unsupported: set[tuple[int, str]] = set()

    @classmethod
    def open(cls) -> GpuReader | None:
        """None when there is no NVML (no package, no driver) or no GPU: nothing to log."""
        try:
            import pynvml

            pynvml.nvmlInit()
        except Exception:  # noqa: BLE001 - ImportError, NVMLError: no GPU metrics, silently
            return None
        try:
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i)
                       for i in range(pynvml.nvmlDeviceGetCount())]
        except Exception:  # noqa: BLE001
            handles = []
        if not handles:
            pynvml.nvmlShutdown()
            return None
        return cls(pynvml, handles)

    def read(self) -> Reading:
        nvml = self._nvml
        out: Reading = {}
        for index, handle in enumerate(self._handles):
            prefix = f"system/gpu{index}/"

            def utilization(h: Any = handle) -> Reading:
                return {"utilization_percent": float(nvml.nvmlDeviceGetUtilizationRates(h).gpu)}

            def memory(h: Any = handle) -> Reading:
                info = nvml.nvmlDeviceGetMemoryInfo(h)
                return {"memory_used_gib": info.used / GIB,
                        "memory_percent": 100.0 * info.used / info.total if info.total else 0.0}

            def temperature(h: Any = handle) -> Reading:
                return {"temperature_c": float(
                    nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU))}

            def power(h: Any = handle) -> Reading:
                return {"power_w": nvml.nvmlDeviceGetPowerUsage(h) / 1000.0}

            for name, part in (("utilization", utilization), ("memory", memory),
                               ("temperature", temperature), ("power", power)):
                if (index, name) in self._unsupported:
                    continue
                try:
                    values = part()
                except nvml.NVMLError_NotSupported:
                    self._unsupported.add((index, name))
                    continue
                out.update({prefix + key: value for key, value in values.items()})
        return out

    def close(self) -> None:
        try:
            self._nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass
