"""Embeddings: the matrix, its metadata rows and label images, checked and converted once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vizlog.concepts.common import is_torch_tensor, to_numpy, where
from vizlog.concepts.image import image_batch
from vizlog.errors import VizlogTypeError, VizlogValueError


def _metadata_rows(
    metadata: Any, rows: int, header: Any, method: str
) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...] | None]:
    if is_torch_tensor(metadata) or isinstance(metadata, np.ndarray):
        metadata = to_numpy(metadata, method, "metadata").tolist()
    if isinstance(metadata, str) or not isinstance(metadata, Sequence):
        raise VizlogTypeError(
            f"{where(method, 'metadata')}: expected a list with one label (or one row of labels) "
            f"per row of mat, got {type(metadata).__name__}"
        )
    if len(metadata) != rows:
        raise VizlogValueError(
            f"{where(method, 'metadata')}: {len(metadata)} labels for {rows} rows of mat; "
            "expected one per row"
        )
    header_row: tuple[str, ...] | None = None
    if header is not None:
        if isinstance(header, str) or not isinstance(header, Sequence):
            raise VizlogTypeError(
                f"{where(method, 'metadata_header')}: expected a list of column names"
            )
        header_row = tuple(str(h) for h in header)
    out: list[tuple[str, ...]] = []
    for i, item in enumerate(metadata):
        if isinstance(item, Sequence) and not isinstance(item, str):
            row = tuple(str(v) for v in item)
        else:
            row = (str(item),)
        width = len(header_row) if header_row is not None else (len(out[0]) if out else len(row))
        if len(row) != width:
            raise VizlogValueError(
                f"{where(method, 'metadata')}: row {i} has {len(row)} columns, expected {width}"
            )
        if any("\t" in v or "\n" in v for v in row):
            raise VizlogValueError(
                f"{where(method, 'metadata')}: row {i} contains a tab or newline"
            )
        out.append(row)
    if header_row is None and out and len(out[0]) > 1:
        raise VizlogValueError(
            f"{where(method, 'metadata_header')}: metadata has {len(out[0])} columns; "
            "name them with metadata_header"
        )
    return tuple(out), header_row


def embedding_fields(
    mat: Any, metadata: Any, label_img: Any, metadata_header: Any, method: str = "embedding"
) -> dict[str, Any]:
    array = to_numpy(mat, method, "mat")
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise VizlogValueError(
            f"{where(method, 'mat')}: expected a 2-D matrix (points x features), got shape "
            f"{array.shape}"
        )
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise VizlogValueError(f"{where(method, 'mat')}: contains NaN or infinite values")
    rows = array.shape[0]
    meta, header = (None, None)
    if metadata is not None:
        meta, header = _metadata_rows(metadata, rows, metadata_header, method)
    elif metadata_header is not None:
        raise VizlogValueError(f"{where(method, 'metadata_header')}: given without metadata")
    images = None
    if label_img is not None:
        if _ndim(label_img) != 4:
            raise VizlogValueError(
                f"{where(method, 'label_img')}: expected a batch of images (NCHW), one per row "
                "of mat"
            )
        images = image_batch(label_img, None, method, "label_img", ambiguous="NCHW")
        if images.shape[0] != rows:
            raise VizlogValueError(
                f"{where(method, 'label_img')}: {images.shape[0]} images for {rows} rows of mat"
            )
    return {"mat": array, "metadata": meta, "metadata_header": header, "label_img": images}


def _ndim(value: Any) -> int:
    return len(value.shape) if hasattr(value, "shape") else np.ndim(value)
