"""vizlog: one logger for PyTorch training runs, over TensorBoard (torch or tensorboardX),
Visdom, or several at once.

Public names are imported on first use, so ``import vizlog`` stays fast and imports no
backend (no torch, tensorboard, tensorboardX or visdom).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vizlog.errors import VizlogError, VizlogTypeError, VizlogValueError

__version__ = "0.1.0"

_LAZY = {
    "Logger": "vizlog.logger",
    "SummaryWriter": "vizlog.summary_writer",
    "serve": "vizlog.servers",
    "read_scalars": "vizlog.export",
    "replay": "vizlog.backends.visdom.replay",
}

if TYPE_CHECKING:
    from vizlog.backends.visdom.replay import replay
    from vizlog.export import read_scalars
    from vizlog.logger import Logger
    from vizlog.servers import serve
    from vizlog.summary_writer import SummaryWriter


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vizlog' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))


__all__ = [
    "Logger",
    "SummaryWriter",
    "serve",
    "read_scalars",
    "replay",
    "VizlogError",
    "VizlogTypeError",
    "VizlogValueError",
    "__version__",
]
