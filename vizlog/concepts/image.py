"""Images: any accepted layout and dtype to one canonical uint8 HWC picture (batches as a grid)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vizlog.concepts.common import owned, to_numpy, where
from vizlog.errors import VizlogTypeError, VizlogValueError

#: Pictures per row of a batch's grid, as the writers lay it out.
GRID_COLUMNS = 8
_LAYOUTS = {2: ("HW",), 3: ("CHW", "HWC"), 4: ("NCHW", "NHWC")}
_CHANNELS = (1, 3, 4)


def _infer_layout(
    shape: tuple[int, ...], method: str, arg: str, ambiguous: str | None = None
) -> str:
    if len(shape) == 2:
        return "HW"
    if len(shape) == 3:
        first, last = shape[0] in _CHANNELS, shape[2] in _CHANNELS
        candidates = [f for f, ok in (("CHW", first), ("HWC", last)) if ok]
    elif len(shape) == 4:
        first, last = shape[1] in _CHANNELS, shape[3] in _CHANNELS
        candidates = [f for f, ok in (("NCHW", first), ("NHWC", last)) if ok]
    else:
        raise VizlogValueError(
            f"{where(method, arg)}: expected an image of shape HW, CHW, HWC or a batch NCHW/NHWC, "
            f"got shape {shape}"
        )
    if len(candidates) == 1:
        return candidates[0]
    if candidates and ambiguous in candidates:
        return ambiguous
    if not candidates:
        raise VizlogValueError(
            f"{where(method, arg)}: shape {shape} fits no image layout (channels must be 1, 3 or "
            f"4); pass dataformats= (one of {', '.join(_LAYOUTS[len(shape)])})"
        )
    raise VizlogValueError(
        f"{where(method, arg)}: shape {shape} is ambiguous ({' or '.join(candidates)}); "
        "pass dataformats= to say which"
    )


def to_uint8(array: np.ndarray) -> np.ndarray:
    """uint8 stays; floats are 0-1 (clipped, scaled, rounded, NaN -> 0); bool is 0/255;
    other integers are 0-255 (clipped)."""
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind == "b":
        return array.astype(np.uint8) * 255
    if array.dtype.kind == "f":
        scaled = np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        return np.rint(np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)
    return np.clip(array, 0, 255).astype(np.uint8)


def image_batch(
    img: Any, dataformats: str | None, method: str, arg: str, ambiguous: str | None = None
) -> np.ndarray:
    """uint8 NHWC with 3 or 4 channels, from any accepted image or batch layout.

    ``ambiguous`` is the layout assumed when the shape fits two (for arguments that have no
    ``dataformats`` of their own); without it an ambiguous shape is an error.
    """
    array = to_numpy(img, method, arg)
    if dataformats is None:
        layout = _infer_layout(array.shape, method, arg, ambiguous)
    else:
        if not isinstance(dataformats, str):
            raise VizlogTypeError(f"{where(method, 'dataformats')}: expected a string like 'CHW'")
        layout = dataformats.upper()
        if (len(layout) != array.ndim or len(set(layout)) != len(layout)
                or not set(layout) <= set("NCHW") or not set("HW") <= set(layout)):
            raise VizlogValueError(
                f"{where(method, 'dataformats')}: {dataformats!r} does not fit an image of shape "
                f"{array.shape}; expected {array.ndim} of the letters N, C, H, W with H and W "
                f"(e.g. {', '.join(_LAYOUTS.get(array.ndim, ('HW',)))})"
            )
    for axis in "NC":  # add the missing batch / channel axes as length 1
        if axis not in layout:
            array = array[np.newaxis] if axis == "N" else array[..., np.newaxis]
            layout = axis + layout if axis == "N" else layout + axis
    array = np.transpose(array, [layout.index(c) for c in "NHWC"])
    if array.shape[3] not in _CHANNELS:
        raise VizlogValueError(
            f"{where(method, arg)}: {array.shape[3]} channels; expected 1 (grey), 3 (RGB) or "
            "4 (RGBA)"
        )
    if 0 in array.shape:
        raise VizlogValueError(f"{where(method, arg)}: the image is empty (shape {array.shape})")
    array = to_uint8(array)
    if array.shape[3] == 1:
        array = np.repeat(array, 3, axis=3)
    return owned(array)


def make_grid(batch: np.ndarray, ncols: int = GRID_COLUMNS) -> np.ndarray:
    """NHWC -> one HWC picture, images left to right, ``ncols`` per row (the writers' grid)."""
    n, h, w, c = batch.shape
    if n == 1:
        return batch[0]
    ncols = min(n, ncols)
    nrows = math.ceil(n / ncols)
    canvas = np.zeros((nrows * h, ncols * w, c), dtype=batch.dtype)
    for i in range(n):
        row, col = divmod(i, ncols)
        canvas[row * h : (row + 1) * h, col * w : (col + 1) * w] = batch[i]
    return canvas


def image_pixels(img: Any, dataformats: str | None, method: str = "image") -> np.ndarray:
    """One uint8 HWC picture; a batch becomes a grid."""
    return image_grid(img, dataformats, method)[0]


def image_grid(img: Any, dataformats: str | None, method: str = "image"
               ) -> tuple[np.ndarray, int]:
    """One uint8 HWC picture (a batch as a grid) and how many pictures it holds."""
    batch = image_batch(img, dataformats, method, "img")
    return make_grid(batch), len(batch)


def boxes_pixels(img: Any, boxes: Any, dataformats: str | None, labels: Any = None,
                 rescale: Any = 1, method: str = "image_with_boxes") -> np.ndarray:
    """A picture with red boxes ``(xmin, ymin, xmax, ymax)`` and their labels drawn on it, then
    scaled by ``rescale``: the writers' ``add_image_with_boxes``, drawn once."""
    from PIL import Image, ImageDraw, ImageFont

    picture = make_grid(image_batch(img, dataformats, method, "img_tensor"))
    box_array = to_numpy(boxes, method, "box_tensor").astype(np.float64)
    if box_array.ndim == 1 and box_array.size == 4:
        box_array = box_array[np.newaxis]
    if box_array.ndim != 2 or box_array.shape[1] != 4 or not np.all(np.isfinite(box_array)):
        raise VizlogValueError(
            f"{where(method, 'box_tensor')}: expected finite (N, 4) boxes (xmin, ymin, xmax, "
            f"ymax), got shape {box_array.shape}"
        )
    if isinstance(labels, str):
        labels = [labels]
    if labels is not None:
        if not isinstance(labels, list | tuple) or not all(isinstance(s, str) for s in labels):
            raise VizlogTypeError(f"{where(method, 'labels')}: expected a list of strings")
        if len(labels) != len(box_array):
            raise VizlogValueError(
                f"{where(method, 'labels')}: {len(labels)} labels for {len(box_array)} boxes"
            )
    if isinstance(rescale, bool) or not isinstance(rescale, int | float) or not (
        0 < rescale <= 16
    ):
        raise VizlogValueError(f"{where(method, 'rescale')}: expected a factor in (0, 16]")
    image = Image.fromarray(picture)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    for i, (left, top, right, bottom) in enumerate(box_array.tolist()):
        draw.line([(left, top), (left, bottom), (right, bottom), (right, top), (left, top)],
                  width=2, fill="Red")
        text = labels[i] if labels is not None else None
        if text:
            x0, y0, x1, y1 = font.getbbox(text)
            height = y1 - y0
            margin = np.ceil(0.05 * height)
            draw.rectangle([(left, bottom - height - 2 * margin), (left + x1 - x0, bottom)],
                           fill="Red")
            draw.text((left + margin, bottom - height - margin), text, fill="black", font=font)
    size = (max(1, int(image.width * rescale)), max(1, int(image.height * rescale)))
    return np.array(image.resize(size, Image.Resampling.LANCZOS))
