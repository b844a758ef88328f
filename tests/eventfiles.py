"""Reading what the TensorBoard writers left on disk, the way TensorBoard itself reads it."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

EVERYTHING = {
    "compressedHistograms": 0, "images": 0, "audio": 0, "scalars": 0, "histograms": 0,
    "tensors": 0,
}


def accumulate(logdir: str | Path) -> EventAccumulator:
    acc = EventAccumulator(str(logdir), size_guidance=EVERYTHING)
    acc.Reload()
    return acc


def scalars(logdir: str | Path, tag: str) -> list[tuple[int, float]]:
    return [(e.step, e.value) for e in accumulate(logdir).Scalars(tag)]


def decode_png(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)))
