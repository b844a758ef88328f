"""Work kept off the training thread: large histograms binned later, CUDA values read later."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from eventfiles import accumulate

import vizlog
from vizlog.concepts import histogram
from vizlog.concepts.histogram import device_histogram


@pytest.mark.parametrize("bins", ["tensorflow", np.linspace(-3, 3, 13)])
def test_device_binning_equals_numpy_binning_on_cpu(bins):
    """The GPU binning code, run here on a CPU tensor, gives the writers' exact bins."""
    values = torch.randn(100_000, generator=torch.Generator().manual_seed(0))
    values[:5] = torch.tensor([float("nan"), float("inf"), 0.0, 1e-12, -1e-12])
    on_device = device_histogram(values, histogram.check_bins(bins))()
    expected = histogram.histogram_fields(values.numpy(), bins)
    assert on_device["bucket_limits"].tolist() == expected["bucket_limits"].tolist()
    assert on_device["bucket_counts"].tolist() == expected["bucket_counts"].tolist()
    for key in ("min", "max", "num", "dropped"):
        assert on_device[key] == expected[key], key
    assert on_device["sum_squares"] == pytest.approx(expected["sum_squares"])


def test_large_histogram_is_binned_from_a_snapshot(tmp_path):
    """Binning happens later, but of the values as they were at the call."""
    weights = torch.zeros(200_000)
    with vizlog.Logger("tensorboard", logdir=tmp_path) as log:
        log.histogram("w", weights, 0)
        weights += 5.0  # the optimizer moves on before the sender bins
        log.histogram("w", weights, 1)
    first, second = accumulate(tmp_path).Histograms("w")
    assert (first.histogram_value.min, first.histogram_value.max) == (0.0, 0.0)
    assert (second.histogram_value.min, second.histogram_value.max) == (5.0, 5.0)
    assert first.histogram_value.num == second.histogram_value.num == 200_000


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.cuda
@cuda
def test_logging_cuda_tensors_does_not_synchronise(tmp_path):
    x = torch.randn(1_000_000, device="cuda")
    loss = (x * x).mean()
    with vizlog.Logger("tensorboard", logdir=tmp_path) as log:  # fake is inline: it would wait
        torch.cuda.set_sync_debug_mode("error")
        try:
            log.scalar("loss", loss, 0)
            log.histogram("x", x, 0)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    acc = accumulate(tmp_path)
    assert acc.Scalars("loss")[0].value == pytest.approx(loss.item())
    assert acc.Histograms("x")[0].histogram_value.num == 1_000_000
