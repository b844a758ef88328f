"""What the framework integrations share: the framework import, hyperparameters, values."""

from __future__ import annotations

import importlib
import numbers
import warnings
from argparse import Namespace
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from vizlog.concepts.common import is_torch_tensor

#: the types a hyperparameter value keeps; anything else is shown as its ``str()``
HPARAM_TYPES = (bool, int, float, str)


def require(extra: str, *modules: str) -> ModuleType:
    """The first of ``modules`` that imports (a framework under its current name, then its
    older one), or an ImportError that says which vizlog extra installs it."""
    error: ImportError | None = None
    for module in modules:
        try:
            return importlib.import_module(module)
        except ImportError as exc:
            error = exc
    raise ImportError(
        f"vizlog.integrations.{extra} needs {modules[0].partition('.')[0]!r}, which is not "
        f'installed: pip install "vizlog[{extra}]"'
    ) from error


def flatten_hparams(params: Any, separator: str = "/") -> dict[str, bool | int | float | str]:
    """Nested configs (dicts, Namespaces, dataclass-like ``to_dict()`` objects) as one flat
    dict of ``outer/inner`` names to values TensorBoard's HParams tab can show.

    Frameworks hand over whatever the user configured: lists, None, paths, enums, nested
    dicts.  Flattening keeps every leaf visible and comparable across runs; values that are
    not numbers, booleans or strings are shown as their ``str()`` (as the frameworks' own
    TensorBoard loggers do), so no configuration can make the call fail.
    """
    out: dict[str, bool | int | float | str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Namespace):
            value = vars(value)
        if isinstance(value, Mapping):
            if not value and prefix:
                out[prefix] = "{}"
            for key, item in value.items():
                walk(f"{prefix}{separator}{key}" if prefix else str(key), item)
            return
        out[prefix] = hparam_value(value)

    walk("", params)
    return out


def hparam_value(value: Any) -> bool | int | float | str:
    if isinstance(value, HPARAM_TYPES):
        return value
    if is_torch_tensor(value) and value.numel() == 1:
        value = value.detach().cpu().item()
        return value if isinstance(value, HPARAM_TYPES) else str(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)


def is_number(value: Any) -> bool:
    """A value ``Logger.scalar`` takes: a real number or a one-element tensor or array."""
    if isinstance(value, numbers.Real):
        return True
    if is_torch_tensor(value):
        return value.numel() == 1 and not value.is_complex()
    size = getattr(value, "size", None)
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    return size == 1 and kind in ("b", "i", "u", "f")


def warn_dropped(source: str, key: str, value: Any, seen: set[str]) -> None:
    """One warning per key for a value the integration cannot log (never an exception: a
    logging hook must not stop training)."""
    if key in seen:
        return
    seen.add(key)
    warnings.warn(
        f"vizlog ({source}): {key!r} is a {type(value).__name__}, which cannot be logged as a "
        "number or text; it is left out",
        RuntimeWarning,
        stacklevel=3,
    )


class Repeats:
    """Spots a point a framework hands over twice: Lightning sends ``epoch`` with the training
    metrics and again with the validation ones at the same step, the Trainer sends ``epoch``
    with its training and evaluation logs.  A repeated point would be drawn twice in Visdom
    (and written twice everywhere); only plain numbers are compared (a tensor is not read)."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, float]] = {}

    def seen(self, tag: str, step: int | None, value: Any) -> bool:
        if step is None or isinstance(value, bool) or not isinstance(value, int | float):
            return False
        point = (step, float(value))
        if self._last.get(tag) == point:
            return True
        self._last[tag] = point
        return False
