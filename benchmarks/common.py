"""What every case shares: timing helpers, the result row, the run's context.

These machines are noisy, so nothing here reports a lone absolute time: every case runs
vizlog and the raw library alternately in the same process, several times, and a row
carries the medians of both and their ratio.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    """One line of the table: vizlog's median, the raw library's median, and the verdict."""

    case: str
    vizlog: float
    raw: float
    unit: str
    ratio: float | None
    target: str
    met: bool | None  # None: measured without a target (shown as "info")
    notes: dict[str, Any] = field(default_factory=dict)
    #: how the vizlog and raw cells read, when the plain value with its unit is not enough
    shown: tuple[str, str] | None = None

    @property
    def status(self) -> str:
        if self.met is None:
            return "info"
        return "met" if self.met else "NOT MET"


@dataclass
class Sizes:
    """How much each case does; ``QUICK`` keeps the smoke test short, ``FULL`` is ``make bench``."""

    repeats: int
    scalar_batch: int
    visdom_raw_batch: int
    loop_block_seconds: float
    loop_repeats: int
    hist_values: int
    delivery_prefill: int
    delivery_raw_rounds: int
    delivery_vizlog_rounds: int
    startup_repeats: int
    outage_scalars: int
    cuda_calls: int
    model_params: int
    model_repeats: int
    system_block_seconds: float
    remote_intervals: tuple[int, ...] = (25, 50, 100, 200)
    remote_scalars: int = 20
    remote_calls: int = 200_000


FULL = Sizes(
    repeats=9,
    scalar_batch=1000,
    visdom_raw_batch=50,
    loop_block_seconds=1.2,  # the delivery threads' own rhythm (0.4 s, 1 s) fits inside
    loop_repeats=160,  # blocks differ by 3% (SD); Visdom windows stay under copies.WINDOW_POINTS
    hist_values=10_000_000,
    delivery_prefill=1000,
    delivery_raw_rounds=40,
    delivery_vizlog_rounds=2000,
    startup_repeats=7,
    outage_scalars=1_000_000,
    cuda_calls=200,
    model_params=100_000_000,
    model_repeats=3,
    system_block_seconds=2.5,
)

QUICK = Sizes(
    repeats=2,
    scalar_batch=50,
    visdom_raw_batch=3,
    loop_block_seconds=0.01,
    loop_repeats=2,
    hist_values=100_000,
    delivery_prefill=20,
    delivery_raw_rounds=2,
    delivery_vizlog_rounds=20,
    startup_repeats=1,
    outage_scalars=2_000,
    cuda_calls=5,
    model_params=100_000,
    model_repeats=1,
    remote_intervals=(4, 8),
    remote_scalars=5,
    remote_calls=2_000,
    system_block_seconds=1.2,  # long enough for one sample at the 1 s interval
)


class Context:
    """Per-run resources: a scratch directory and, on first use, one local Visdom server."""

    def __init__(self, sizes: Sizes, workdir: str | None = None) -> None:
        self.sizes = sizes
        self._stack = contextlib.ExitStack()
        if workdir is None:
            workdir = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="vizlog-bench-"))
        self.workdir = workdir
        self._visdom: Any = None
        self._counter = 0

    def path(self, name: str) -> str:
        """A fresh directory under the scratch directory."""
        self._counter += 1
        path = os.path.join(self.workdir, f"{self._counter:03d}-{name}")
        os.makedirs(path)
        return path

    @property
    def visdom(self) -> Any:
        """The local Visdom server (``vizlog.serve``), started once, stopped at the end."""
        if self._visdom is None:
            import vizlog

            server = vizlog.serve("visdom", port=0, env_path=self.path("visdom-env"))
            self._visdom = self._stack.enter_context(server)
        return self._visdom

    def visdom_client(self, env: str) -> Any:
        """The raw per-call client, as a user would make it."""
        import visdom

        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), \
                contextlib.redirect_stderr(devnull):
            # it announces "Setting up a new session..." on every construction
            client = visdom.Visdom(
                server="http://127.0.0.1", port=self.visdom.port, env=env,
                use_incoming_socket=False, raise_exceptions=True,
            )
        return client

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def per_call_ns(call: Callable[[int], Any], count: int, start: int = 0) -> float:
    """Nanoseconds per call over one batch of ``count`` calls (``call(i)``, i counting up)."""
    begin = time.perf_counter_ns()
    for i in range(start, start + count):
        call(i)
    return (time.perf_counter_ns() - begin) / count


def timed_ns(call: Callable[[], Any]) -> float:
    begin = time.perf_counter_ns()
    call()
    return float(time.perf_counter_ns() - begin)


def alternate(variants: dict[str, Callable[[int], float]], repeats: int) -> dict[str, list[float]]:
    """Run each variant once per repeat, rotating the order so none always goes first.

    Each variant gets the repeat number and returns one sample.
    """
    names = list(variants)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(variants[name](r))
    return samples


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The writers' deprecation noise is not what a benchmark reader came for."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def fmt(value: float, unit: str) -> str:
    if value != value:  # NaN: not measured
        return "-"
    if unit in ("ns/call",):
        return f"{value / 1000:.2f} µs/call" if value >= 1000 else f"{value:.0f} ns/call"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "ms/step":
        return f"{value:.2f} ms/step"
    if unit == "pts/s":
        return f"{value:,.0f} pts/s"
    if unit == "MB":
        return f"{value:.1f} MB"
    return f"{value:.3g} {unit}"
