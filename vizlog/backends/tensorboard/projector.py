"""The TensorBoard projector's files (tensors, metadata, sprite, config), written the same way
for both TensorBoard backends.

The writers' own ``add_embedding`` differ (tensorboardX needs square label images, torch's
needs torch tensors); writing the documented file layout ourselves keeps both identical.

Files go through the run's store (``storage.py``): a local directory or an object store.
``projector_config.pbtxt`` is shared by every writer of the run's directory (two Loggers, a
resumed run): in a local directory each embedding is added to what is on disk at that moment,
under a file lock, and the file is replaced atomically, so no writer's entries are lost and a
reader never sees half a file (on a store: to what was there when the run started).  It is
built as a ``ProjectorConfig`` protobuf, so any tag (quotes, newlines) is escaped the way
TensorBoard's parser expects.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote

import numpy as np

from vizlog.concepts.image import make_grid
from vizlog.records import Embedding

CONFIG_NAME = "projector_config.pbtxt"
#: longest directory name written for a tag (file systems allow 255 bytes)
MAX_PART_BYTES = 200


def safe_path_part(tag: str) -> str:
    """A tag as one directory name that cannot leave its parent (no ``/``, ``\\``, ``..``)
    and fits any file system: a long tag keeps its start and gets a digest of the whole."""
    part = quote(tag, safe=" -_.,=+@")
    if set(part) <= {"."}:
        part = part.replace(".", "%2E")
    if len(part.encode("utf-8")) > MAX_PART_BYTES:
        digest = hashlib.sha1(tag.encode("utf-8")).hexdigest()[:16]
        part = part[: MAX_PART_BYTES - 17].rstrip("%") + "-" + digest
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


def _config_class() -> Any:
    try:
        from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig
    except ImportError:  # tensorboardX without tensorboard: the same message, defined here
        from vizlog.backends.tensorboard._projector_pb2 import ProjectorConfig
    return ProjectorConfig


class Files(Protocol):
    """Where the files go: ``storage.LocalStore`` or ``storage.ObjectStore``."""

    def put(self, name: str, data: bytes) -> None: ...
    def load(self, name: str) -> None: ...
    def update(self, name: str, change: Callable[[bytes | None], bytes]) -> None: ...


class ProjectorWriter:
    """Writes each embedding's files and adds it to the run's ``projector_config.pbtxt``."""

    def __init__(self, files: Files) -> None:
        self.files = files
        files.load(CONFIG_NAME)

    def write(self, record: Embedding) -> str:
        """Write one embedding's files; returns their directory, relative to the run."""
        from google.protobuf import text_format

        step = str(record.step).zfill(5)
        subdir = f"{step}/{safe_path_part(record.tag)}"
        tensors = io.BytesIO()
        np.savetxt(tensors, record.mat, delimiter="\t", fmt="%.8g")
        self.files.put(f"{subdir}/tensors.tsv", tensors.getvalue())
        config_class = _config_class()
        entry = config_class().embeddings.add()
        entry.tensor_name = f"{record.tag}:{step}"
        entry.tensor_path = f"{subdir}/tensors.tsv"
        if record.metadata is not None:
            rows = list(record.metadata)
            if record.metadata_header is not None:
                rows.insert(0, record.metadata_header)
            text = "".join("\t".join(row) + "\n" for row in rows)
            self.files.put(f"{subdir}/metadata.tsv", text.encode("utf-8"))
            entry.metadata_path = f"{subdir}/metadata.tsv"
        if record.label_img is not None:
            png, width, height = _sprite_png(record.label_img)
            self.files.put(f"{subdir}/sprite.png", png)
            entry.sprite.image_path = f"{subdir}/sprite.png"
            entry.sprite.single_image_dim.extend([width, height])

        def add_entry(earlier: bytes | None) -> bytes:
            config = config_class()
            if earlier:
                text_format.Parse(earlier.decode("utf-8"), config)
            kept = [e for e in config.embeddings if e.tensor_name != entry.tensor_name]
            del config.embeddings[:]
            config.embeddings.extend(kept + [entry])
            return text_format.MessageToString(config, as_utf8=True).encode("utf-8")

        self.files.update(CONFIG_NAME, add_entry)
        return subdir
