"""Meshes and point clouds: vertices, colours and faces checked against each other once."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from vizlog.concepts.common import to_numpy, where
from vizlog.concepts.image import to_uint8
from vizlog.errors import VizlogTypeError, VizlogValueError


def _batched(value: Any, arg: str, method: str) -> np.ndarray:
    array = to_numpy(value, method, arg)
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3 or array.shape[2] != 3:
        raise VizlogValueError(
            f"{where(method, arg)}: expected shape (B, N, 3) or (N, 3), got {array.shape}"
        )
    return array


def mesh_fields(vertices: Any, colors: Any, faces: Any, config_dict: Any,
                method: str = "mesh") -> dict[str, Any]:
    """float32 vertices (B, N, 3), uint8 colours (B, N, 3) (floats mean 0-1, as for images),
    int32 faces (B, F, 3) indexing the vertices, the configuration as sorted JSON."""
    points = _batched(vertices, "vertices", method)
    if points.shape[1] == 0:
        raise VizlogValueError(f"{where(method, 'vertices')}: no vertices")
    points = np.array(points, dtype=np.float32, copy=True)
    if not np.all(np.isfinite(points)):
        raise VizlogValueError(f"{where(method, 'vertices')}: contains NaN or infinite values")
    fields: dict[str, Any] = {"vertices": points, "colors": None, "faces": None}
    if colors is not None:
        shades = _batched(colors, "colors", method)
        if shades.shape != points.shape:
            raise VizlogValueError(
                f"{where(method, 'colors')}: one colour per vertex, shape {points.shape}; "
                f"got {shades.shape}"
            )
        fields["colors"] = np.array(to_uint8(shades), copy=True)
    if faces is not None:
        triangles = _batched(faces, "faces", method)
        if triangles.dtype.kind not in "biu" and not np.all(np.mod(triangles, 1) == 0):
            raise VizlogTypeError(f"{where(method, 'faces')}: expected vertex indices (integers)")
        if triangles.shape[0] != points.shape[0]:
            raise VizlogValueError(
                f"{where(method, 'faces')}: {triangles.shape[0]} batches of faces for "
                f"{points.shape[0]} of vertices"
            )
        if triangles.size and (triangles.min() < 0 or triangles.max() >= points.shape[1]):
            raise VizlogValueError(
                f"{where(method, 'faces')}: indices must be 0 to {points.shape[1] - 1} (one per "
                f"vertex); found {int(triangles.min())} to {int(triangles.max())}"
            )
        fields["faces"] = np.array(triangles, dtype=np.int32, copy=True)
    if config_dict is not None and not isinstance(config_dict, dict):
        raise VizlogTypeError(
            f"{where(method, 'config_dict')}: expected a dict of three.js settings, got "
            f"{type(config_dict).__name__}"
        )
    try:
        fields["config"] = json.dumps(config_dict or {}, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise VizlogValueError(f"{where(method, 'config_dict')}: not JSON ({exc})") from None
    return fields
