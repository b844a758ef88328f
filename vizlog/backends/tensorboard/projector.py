"""The TensorBoard projector's files (tensors, metadata, sprite, config), written the same way
for both TensorBoard backends.

The writers' own ``add_embedding`` differ (tensorboardX needs square label images, torch's
needs torch tensors); writing the documented file layout ourselves keeps both identical.
"""

from __future__ import annotations

import io
import math
import os
from urllib.parse import quote

import numpy as np

from vizlog.concepts.image import make_grid
from vizlog.records import Embedding


def safe_path_part(tag: str) -> str:
    """A tag as one directory name that cannot leave its parent (no ``/``, ``\\``, ``..``)."""
    part = quote(tag, safe=" -_.,=+@")
    if set(part) <= {"."}:
        part = part.replace(".", "%2E")
    return part


def _sprite_png(label_img: np.ndarray) -> tuple[bytes, int, int]:
    """Square sprite sheet of NHWC uint8 thumbnails, as the projector expects."""
    from PIL import Image

    n, h, w, _ = label_img.shape
    per_row = math.ceil(math.sqrt(n))
    grid = make_grid(label_img[..., :3], ncols=per_row)
    side = max(grid.shape[0], grid.shape[1])
    square = np.zeros((side, side, 3), dtype=np.uint8)
    square[: grid.shape[0], : grid.shape[1]] = grid
    buffer = io.BytesIO()
    Image.fromarray(square).save(buffer, format="PNG")
    return buffer.getvalue(), w, h


class ProjectorWriter:
    """Keeps one run's ``projector_config.pbtxt`` and writes each embedding's files."""

    def __init__(self, logdir: str) -> None:
        self.logdir = logdir
        self._config = os.path.join(logdir, "projector_config.pbtxt")
        self._entries: list[str] = []
        if os.path.exists(self._config):  # a resumed run keeps its earlier embeddings
            with open(self._config, encoding="utf-8") as f:
                self._entries.append(f.read())

    def write(self, record: Embedding) -> str:
        subdir = f"{str(record.step).zfill(5)}/{safe_path_part(record.tag)}"
        target = os.path.join(self.logdir, subdir)
        os.makedirs(target, exist_ok=True)
        np.savetxt(os.path.join(target, "tensors.tsv"), record.mat, delimiter="\t", fmt="%.8g")
        lines = [f'  tensor_name: "{_escape(record.tag)}:{str(record.step).zfill(5)}"',
                 f'  tensor_path: "{subdir}/tensors.tsv"']
        if record.metadata is not None:
            rows = list(record.metadata)
            if record.metadata_header is not None:
                rows.insert(0, record.metadata_header)
            with open(os.path.join(target, "metadata.tsv"), "w", encoding="utf-8") as f:
                f.write("".join("\t".join(row) + "\n" for row in rows))
            lines.append(f'  metadata_path: "{subdir}/metadata.tsv"')
        if record.label_img is not None:
            png, width, height = _sprite_png(record.label_img)
            with open(os.path.join(target, "sprite.png"), "wb") as f:
                f.write(png)
            lines += ["  sprite {", f'    image_path: "{subdir}/sprite.png"',
                      f"    single_image_dim: {width}", f"    single_image_dim: {height}", "  }"]
        self._entries.append("embeddings {\n" + "\n".join(lines) + "\n}\n")
        with open(self._config + ".tmp", "w", encoding="utf-8") as f:
            f.write("".join(self._entries))
        os.replace(self._config + ".tmp", self._config)
        return target


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
