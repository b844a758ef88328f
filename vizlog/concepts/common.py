"""Checks and conversions every concept shares: tensors and arrays to numpy, one number,
steps, walltimes, tags and text.

Everything in ``vizlog.concepts`` is a function of its arguments: no I/O, no backend, no
global state.  The Logger calls these once per logging call; errors name the method and the
argument so that a user reading a traceback knows what to fix.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vizlog.errors import VizlogTypeError, VizlogValueError


def where(method: str, arg: str) -> str:
    return f"{method}({arg}=...)"


def is_torch_tensor(value: Any) -> bool:
    """True for torch tensors, without importing torch."""
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def is_cuda(value: Any) -> bool:
    """A tensor on a CUDA device (reading it on the host would wait for the GPU)."""
    return is_torch_tensor(value) and value.is_cuda


def check_numeric_tensor(value: Any, method: str, arg: str) -> None:
    """Checks a tensor from its metadata only (no device synchronisation)."""
    check_has_data(value, method, arg)
    if value.is_complex():
        raise VizlogTypeError(f"{where(method, arg)}: complex tensors cannot be logged")
    if value.numel() == 0:
        raise VizlogValueError(f"{where(method, arg)}: the tensor is empty")


def check_one_number(value: Any, method: str, arg: str) -> None:
    check_numeric_tensor(value, method, arg)
    if value.numel() != 1:
        raise VizlogValueError(
            f"{where(method, arg)}: expected one number, got a tensor of shape "
            f"{tuple(value.shape)}"
        )


def owned(array: np.ndarray) -> np.ndarray:
    """``array`` if it owns its memory, else a contiguous copy.

    Records own their arrays: a record is turned into bytes later, on the sender thread, so
    a view of the caller's buffer (a PIL image, a reused frame, a tensor's storage) would be
    logged with whatever the caller wrote there in between.
    """
    if array.base is None and array.flags.owndata and array.flags.c_contiguous:
        return array
    return np.array(array, order="C", copy=True)


def check_has_data(tensor: Any, method: str, arg: str) -> None:
    """A tensor without storage (the ``meta`` device) cannot be logged."""
    if getattr(tensor, "is_meta", False):
        raise VizlogValueError(
            f"{where(method, arg)}: a tensor on the 'meta' device has no values to log"
        )


def to_numpy(value: Any, method: str, arg: str) -> np.ndarray:
    """A numeric numpy array from a tensor (any device, with grad), array, number or list."""
    if is_torch_tensor(value):
        check_has_data(value, method, arg)
        tensor = value.detach()
        if tensor.is_complex():
            raise VizlogTypeError(f"{where(method, arg)}: complex tensors cannot be logged")
        if tensor.dtype.is_floating_point and tensor.element_size() < 4:
            tensor = tensor.float()  # numpy has no bfloat16; float16 widened for the same path
        return tensor.cpu().numpy()
    if isinstance(value, str | bytes):
        raise VizlogTypeError(
            f"{where(method, arg)}: expected numbers (tensor, array, number or list), "
            f"got {type(value).__name__}"
        )
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise VizlogValueError(f"{where(method, arg)}: cannot read as an array ({exc})") from exc
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise VizlogTypeError(
            f"{where(method, arg)}: expected numbers (tensor, array, number or list), "
            f"got {type(value).__name__} of {array.dtype}"
        )
    return array


def to_scalar(value: Any, method: str = "scalar", arg: str = "value") -> float:
    """One float from a number, a one-element tensor or array."""
    if isinstance(value, bool | int | float) and not isinstance(value, np.ndarray):
        return _float(value, method, arg)
    if is_torch_tensor(value):
        if value.numel() != 1:
            raise VizlogValueError(
                f"{where(method, arg)}: expected one number, got a tensor of shape "
                f"{tuple(value.shape)}"
            )
        if value.is_complex():
            raise VizlogTypeError(f"{where(method, arg)}: complex values cannot be logged")
        check_has_data(value, method, arg)
        return float(value.detach().item())
    if isinstance(value, np.generic | np.ndarray):
        if value.size != 1:
            raise VizlogValueError(
                f"{where(method, arg)}: expected one number, got an array of shape "
                f"{np.shape(value)}"
            )
        if value.dtype.kind not in "biuf":
            raise VizlogTypeError(
                f"{where(method, arg)}: expected a number, got an array of {value.dtype}"
            )
        return _float(value.reshape(()) if isinstance(value, np.ndarray) else value, method, arg)
    raise VizlogTypeError(
        f"{where(method, arg)}: expected a number (float, int, one-element tensor or array), "
        f"got {type(value).__name__}"
    )


def _float(value: Any, method: str, arg: str) -> float:
    try:
        return float(value)
    except OverflowError:
        raise VizlogValueError(
            f"{where(method, arg)}: {value!r:.40} is too large for a float"
        ) from None


#: steps are stored as 64-bit integers by every backend
STEP_MIN, STEP_MAX = -(2**63), 2**63 - 1


def to_step(step: Any, method: str) -> int:
    if isinstance(step, bool):
        raise VizlogTypeError(f"{where(method, 'step')}: expected an integer, got bool")
    if isinstance(step, int):
        value = step
    elif isinstance(step, np.integer):
        value = int(step)
    elif is_torch_tensor(step) and step.numel() == 1 and not step.dtype.is_floating_point:
        value = int(step.item())
    elif isinstance(step, float | np.floating) and float(step).is_integer():
        value = int(step)
    else:
        raise VizlogTypeError(
            f"{where(method, 'step')}: expected an integer, got {type(step).__name__} {step!r}"
        )
    if not STEP_MIN <= value <= STEP_MAX:
        raise VizlogValueError(
            f"{where(method, 'step')}: {value} does not fit in 64 bits, as steps are stored"
        )
    return value


def check_text(text: str, method: str, arg: str) -> str:
    """Text must survive encoding as UTF-8 (files, protobufs, JSON): no lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise VizlogValueError(
            f"{where(method, arg)}: cannot be encoded as UTF-8 ({exc.reason} at position "
            f"{exc.start})"
        ) from None
    return text


def to_walltime(walltime: Any, method: str) -> float:
    if isinstance(walltime, bool) or not isinstance(walltime, int | float | np.number):
        raise VizlogTypeError(
            f"{where(method, 'walltime')}: expected seconds since the epoch (a number), "
            f"got {type(walltime).__name__}"
        )
    value = float(walltime)
    if not math.isfinite(value):
        raise VizlogValueError(f"{where(method, 'walltime')}: expected a finite number")
    return value


def check_tag(tag: Any, method: str, arg: str = "tag") -> str:
    if not isinstance(tag, str):
        raise VizlogTypeError(f"{where(method, arg)}: expected a string, got {type(tag).__name__}")
    if not tag.strip():
        raise VizlogValueError(f"{where(method, arg)}: expected a non-empty string")
    if "\x00" in tag:
        raise VizlogValueError(f"{where(method, arg)}: a tag cannot contain NUL characters")
    return check_text(tag, method, arg)
