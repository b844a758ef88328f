"""Audio: samples checked once, kept as float32 (frames, channels), written as 16-bit WAV.

The WAV is made with the standard library's ``wave``, the way ``torch.utils.tensorboard``
makes it, so no audio package (tensorboardX wants ``soundfile``, Visdom's client ``scipy``)
is needed on any backend.
"""

from __future__ import annotations

import io
import wave
from typing import Any

import numpy as np

from vizlog.concepts.common import to_numpy, where
from vizlog.errors import VizlogTypeError, VizlogValueError

#: the WAV header holds the rate in 32 bits; more than this is no sound anyone can play
MAX_SAMPLE_RATE = 2**31 - 1


def check_sample_rate(sample_rate: Any, method: str = "audio") -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | float | np.number):
        raise VizlogTypeError(f"{where(method, 'sample_rate')}: expected a number of Hz")
    if not float(sample_rate).is_integer() or not 1 <= sample_rate <= MAX_SAMPLE_RATE:
        raise VizlogValueError(
            f"{where(method, 'sample_rate')}: expected a whole number of Hz from 1 to "
            f"{MAX_SAMPLE_RATE}, got {sample_rate}"
        )
    return int(sample_rate)


def audio_samples(snd_tensor: Any, method: str = "audio") -> tuple[np.ndarray, bool]:
    """float32 (frames, channels) in [-1, 1], and whether values had to be clipped.

    Accepted: (L,) or torch's (1, L) as mono, tensorboardX's (L, 1) or (L, 2); other
    length-1 axes are dropped as the writers drop them.
    """
    array = to_numpy(snd_tensor, method, "snd_tensor")
    if array.ndim > 2:
        array = array.reshape([n for n in array.shape if n != 1] or [1])
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim == 2 and array.shape[0] == 1 and array.shape[1] not in (1, 2):
        array = array.reshape(-1)  # torch's documented (1, L)
    if array.ndim == 1:
        array = array[:, np.newaxis]
    if array.ndim != 2 or array.shape[1] not in (1, 2):
        raise VizlogValueError(
            f"{where(method, 'snd_tensor')}: expected (L,), (1, L) or (L, C) with 1 or 2 "
            f"channels, got shape {np.shape(snd_tensor)}"
        )
    if array.shape[0] == 0:
        raise VizlogValueError(f"{where(method, 'snd_tensor')}: the sound has no samples")
    samples = np.array(array, dtype=np.float32, copy=True)
    if not np.all(np.isfinite(samples)):
        raise VizlogValueError(f"{where(method, 'snd_tensor')}: contains NaN or infinite values")
    clipped = bool(np.any(np.abs(samples) > 1.0))
    if clipped:
        np.clip(samples, -1.0, 1.0, out=samples)
    return samples, clipped


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV, samples scaled by 32767 and truncated, as ``torch.utils.tensorboard``."""
    pcm = (samples * np.iinfo(np.int16).max).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(int(samples.shape[1]))
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(np.ascontiguousarray(pcm).tobytes())
    return buffer.getvalue()
