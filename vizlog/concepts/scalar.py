"""Scalars: one number, or a dict of them for one chart."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vizlog.concepts.common import check_tag, check_text, to_scalar, where
from vizlog.concepts.device import to_host_async
from vizlog.errors import VizlogTypeError, VizlogValueError


def scalar_dict(values: Any, method: str = "scalars") -> dict[str, float]:
    if not isinstance(values, Mapping):
        raise VizlogTypeError(
            f"{where(method, 'tag_value_dict')}: expected a dict of name -> number, got "
            f"{type(values).__name__}"
        )
    if not values:
        raise VizlogValueError(f"{where(method, 'tag_value_dict')}: the dict is empty")
    out = {}
    for key, value in values.items():
        check_tag(key, method, "tag_value_dict")
        out[key] = to_scalar(value, method, f"tag_value_dict[{key!r}]")
    return out


def read_later(value: Any) -> Callable[[], float]:
    """A CUDA scalar read without synchronising the training thread: the returned function
    (called on the delivery thread) waits for the copy."""
    import torch

    wait = to_host_async(value.detach().reshape(()).to(torch.float64))
    return lambda: float(wait())


PRECISIONS = ("", "float", "double")


def check_style(style: Any, method: str = "scalar") -> tuple[str, str, str] | tuple[()]:
    """``(precision, display_name, description)``: precision ``""`` (a float32 value, the
    writers' default), ``"float"`` or ``"double"`` (a tensor, torch's ``new_style``)."""
    if (not isinstance(style, tuple) or len(style) != 3
            or not all(isinstance(part, str) for part in style) or style[0] not in PRECISIONS):
        raise VizlogTypeError(
            f"{where(method, 'style')}: expected (precision, display_name, description), "
            f"precision one of {PRECISIONS}"
        )
    for part in style[1:]:
        check_text(part, method, "style")
    return style
