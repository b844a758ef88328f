"""Video: frames checked once, a batch tiled into one grid per frame (as the writers tile it),
encoded once as an animated GIF with Pillow.

Both writers need ``moviepy`` for this (torch's wants a version of it that no longer exists,
and the Visdom client wants PyAV); Pillow is already needed for images, so a video never
fails for a missing package.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from vizlog.concepts.common import to_numpy, where
from vizlog.concepts.image import to_uint8
from vizlog.errors import VizlogTypeError, VizlogValueError

#: GIF stores sizes in 16 bits
MAX_SIDE = 65_535


def check_fps(fps: Any, method: str = "video") -> float:
    if isinstance(fps, bool) or not isinstance(fps, int | float | np.number):
        raise VizlogTypeError(f"{where(method, 'fps')}: expected frames per second (a number)")
    if not 0 < float(fps) <= 1000:
        raise VizlogValueError(f"{where(method, 'fps')}: expected 0 < fps <= 1000, got {fps}")
    return float(fps)


def _layout(dataformats: Any, ndim: int, method: str) -> str:
    if not isinstance(dataformats, str):
        raise VizlogTypeError(f"{where(method, 'dataformats')}: expected a string like 'NTCHW'")
    layout = dataformats.upper()
    if ndim == 4 and len(layout) == 5 and layout.startswith("N"):
        layout = layout[1:]  # one video without the batch axis
    if len(layout) != ndim or sorted(layout) != sorted("NTCHW"[5 - ndim:]):
        raise VizlogValueError(
            f"{where(method, 'dataformats')}: {dataformats!r} does not fit a video of {ndim} "
            "dimensions; expected a batch NTCHW (or another order of those letters), or one "
            "video TCHW"
        )
    return layout if ndim == 5 else "N" + layout


def video_frames(vid_tensor: Any, dataformats: Any = "NTCHW",
                 method: str = "video") -> np.ndarray:
    """uint8 (T, H, W, 3): the videos of the batch side by side in a grid of power-of-two
    columns, as the writers' ``_prepare_video`` lays them out.  Floats mean 0-1 (clipped),
    grey becomes RGB and an alpha channel is dropped (GIF has none)."""
    array = to_numpy(vid_tensor, method, "vid_tensor")
    if array.ndim not in (4, 5):
        raise VizlogValueError(
            f"{where(method, 'vid_tensor')}: expected (N, T, C, H, W) or one video "
            f"(T, C, H, W), got shape {array.shape}"
        )
    layout = _layout(dataformats, array.ndim, method)
    if array.ndim == 4:
        array = array[np.newaxis]
    array = np.transpose(array, [layout.index(c) for c in "NTCHW"])
    b, t, c, h, w = array.shape
    if c not in (1, 3, 4):
        raise VizlogValueError(
            f"{where(method, 'vid_tensor')}: {c} channels; expected 1 (grey), 3 (RGB) or 4"
        )
    if 0 in array.shape:
        raise VizlogValueError(f"{where(method, 'vid_tensor')}: the video is empty "
                               f"(shape {array.shape})")
    rows = 2 ** ((b.bit_length() - 1) // 2)
    cols = (1 << (b - 1).bit_length()) // rows  # the batch padded to a power of two
    if rows * h > MAX_SIDE or cols * w > MAX_SIDE:
        raise VizlogValueError(
            f"{where(method, 'vid_tensor')}: a frame of {rows * h}x{cols * w} pixels is larger "
            f"than a GIF can hold ({MAX_SIDE})"
        )
    pixels = to_uint8(array)
    if c == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    pixels = pixels[:, :, :3]
    grid = np.zeros((rows * cols, t, 3, h, w), dtype=np.uint8)
    grid[:b] = pixels
    grid = grid.reshape(rows, cols, t, 3, h, w).transpose(2, 0, 4, 1, 5, 3)
    return np.ascontiguousarray(grid.reshape(t, rows * h, cols * w, 3))


def gif_bytes(frames: np.ndarray, fps: float) -> bytes:
    """An animated GIF that loops, each frame shown 1/fps seconds (GIF counts in 10 ms)."""
    from PIL import Image

    images = [Image.fromarray(frame) for frame in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   duration=max(10, int(math.floor(1000.0 / fps / 10 + 0.5)) * 10), loop=0)
    return buffer.getvalue()
