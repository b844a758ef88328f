"""Hyperparameters and the metrics runs are compared by, checked once.

Values become bool, str or float (None is left out, as both writers leave it out; a function
becomes its name, as tensorboardX shows it).  Metric values are numbers or None (the metric
is a scalar tag the run logs itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from vizlog.concepts.common import check_tag, check_text, is_torch_tensor, to_scalar, where
from vizlog.errors import VizlogTypeError, VizlogValueError

Value = bool | str | float


def _value(value: Any, method: str, arg: str) -> Value | None:
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, str):
        return check_text(value, method, arg)
    if isinstance(value, int | float | np.number) or is_torch_tensor(value) or (
        isinstance(value, np.ndarray)
    ):
        return to_scalar(value, method, arg)
    if callable(value):
        return check_text(str(getattr(value, "__name__", value)), method, arg)
    raise VizlogTypeError(
        f"{where(method, arg)}: expected a bool, string or number, got {type(value).__name__}"
    )


def check_run_name(run_name: Any, method: str = "hparams", arg: str = "run_name") -> str | None:
    """A sub-run under the logdir: a relative path that cannot leave it."""
    if run_name is None:
        return None
    name = check_tag(run_name, method, arg)
    parts = name.split("/")
    if name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts) or (
        ":" in parts[0]
    ):
        raise VizlogValueError(
            f"{where(method, arg)}: {name!r} must be a relative path inside the logdir "
            "(names separated by '/', no '..', no backslashes)"
        )
    return name


def hparams_fields(hparam_dict: Any, metric_dict: Any, hparam_domain_discrete: Any = None,
                   run_name: Any = None, method: str = "hparams") -> dict[str, Any]:
    if not isinstance(hparam_dict, Mapping):
        raise VizlogTypeError(
            f"{where(method, 'hparam_dict')}: expected a dict of name -> value, got "
            f"{type(hparam_dict).__name__}"
        )
    if metric_dict is not None and not isinstance(metric_dict, Mapping):
        raise VizlogTypeError(
            f"{where(method, 'metric_dict')}: expected a dict of tag -> number (or None), got "
            f"{type(metric_dict).__name__}"
        )
    hparams: dict[str, Value] = {}
    for key, value in hparam_dict.items():
        check_tag(key, method, "hparam_dict")
        checked = _value(value, method, f"hparam_dict[{key!r}]")
        if checked is not None:
            hparams[key] = checked
    metrics: dict[str, float | None] = {}
    for key, value in (metric_dict or {}).items():
        check_tag(key, method, "metric_dict")
        metrics[key] = None if value is None else to_scalar(value, method,
                                                              f"metric_dict[{key!r}]")
    domains: dict[str, tuple[Value, ...]] = {}
    if hparam_domain_discrete is not None:
        arg = "hparam_domain_discrete"
        if not isinstance(hparam_domain_discrete, Mapping):
            raise VizlogTypeError(f"{where(method, arg)}: expected a dict of name -> values")
        for key, values in hparam_domain_discrete.items():
            if key not in hparams:
                raise VizlogValueError(f"{where(method, arg)}: {key!r} is not in hparam_dict")
            if not isinstance(values, list | tuple) or not values:
                raise VizlogTypeError(f"{where(method, arg)}: [{key!r}] must be a list of values")
            checked_values = tuple(_value(v, method, f"{arg}[{key!r}]") for v in values)
            if any(type(v) is not type(hparams[key]) for v in checked_values):
                raise VizlogTypeError(
                    f"{where(method, arg)}: [{key!r}] must hold values of the same type as "
                    f"hparam_dict[{key!r}] ({type(hparams[key]).__name__})"
                )
            domains[key] = checked_values  # type: ignore[assignment]
    return {"hparams": hparams, "metrics": metrics, "domains": domains,
            "run": check_run_name(run_name, method)}


def numbers(metrics: Mapping[str, float | None]) -> dict[str, float]:
    """The metric values that were given (logged as scalars under their tags)."""
    return {k: v for k, v in metrics.items() if v is not None}
