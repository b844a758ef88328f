"""Backend registry: names to ``module:Class``, imported only when a Logger asks for them.

Importing vizlog imports no backend.  A known backend whose package is missing raises an
``ImportError`` that says which extra installs it.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass

from vizlog.backends.base import Backend


@dataclass(frozen=True)
class BackendSpec:
    target: str  # "module:Class"
    requires: tuple[str, ...]  # top-level packages the backend imports
    extra: str | None  # the vizlog extra that installs them


KNOWN_BACKENDS: dict[str, BackendSpec] = {
    "tensorboard": BackendSpec(
        "vizlog.backends.tensorboard.writer:TorchTensorBoardBackend",
        ("torch", "tensorboard"),
        "tensorboard",
    ),
    "tensorboardx": BackendSpec(
        "vizlog.backends.tensorboard.tensorboardx:TensorBoardXBackend",
        ("tensorboardX",),
        "tensorboardx",
    ),
    "visdom": BackendSpec("vizlog.backends.visdom.backend:VisdomBackend", ("visdom",), "visdom"),
    "fake": BackendSpec("vizlog.backends.fake:FakeBackend", (), None),
    "none": BackendSpec("vizlog.backends.fake:NoneBackend", (), None),
}


def get_backend_class(name: str) -> type[Backend]:
    """The class registered under ``name``, importing its module now."""
    spec = KNOWN_BACKENDS.get(name)
    if spec is None:
        known = ", ".join(sorted(KNOWN_BACKENDS))
        raise ValueError(f"Logger(backend=...): unknown backend {name!r}; known backends: {known}")
    for package in spec.requires:
        if not _installed(package):
            raise ImportError(
                f"the {name!r} backend needs the {package!r} package, which is not installed: "
                f'pip install "vizlog[{spec.extra}]"'
            )
    module_name, _, class_name = spec.target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def _installed(package: str) -> bool:
    """Whether ``package`` can be imported, without importing it: the Visdom backend talks
    HTTP itself, and importing the ``visdom`` package would import torch (seconds) for
    nothing; the backend module imports what it uses."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def parse_backend_names(backend: str | Sequence[str]) -> tuple[str, ...]:
    """``"tensorboard,visdom"`` or a list of names -> a tuple of known names, in order."""
    if isinstance(backend, str):
        names = [part.strip().lower() for part in backend.split(",")]
    elif isinstance(backend, Sequence):
        names = []
        for part in backend:
            if not isinstance(part, str):
                raise TypeError(
                    f"Logger(backend=...): backend names must be strings, got {type(part).__name__}"
                )
            names.append(part.strip().lower())
    else:
        raise TypeError(
            "Logger(backend=...): expected a name, a comma-separated string or a list of names, "
            f"got {type(backend).__name__}"
        )
    names = [n for n in names if n]
    if not names:
        raise ValueError("Logger(backend=...): no backend named")
    for name in names:
        if name not in KNOWN_BACKENDS:
            known = ", ".join(sorted(KNOWN_BACKENDS))
            raise ValueError(
                f"Logger(backend=...): unknown backend {name!r}; known backends: {known}"
            )
    return tuple(dict.fromkeys(names))


__all__ = ["Backend", "BackendSpec", "KNOWN_BACKENDS", "get_backend_class", "parse_backend_names"]
