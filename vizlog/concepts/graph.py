"""Model graphs, built in one place so the tracer can change (``torch.fx``/``torch.export``)
without touching the Logger or the backends.

Tracing happens once per ``Logger.graph`` call; every backend gets the same result.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any

from vizlog.errors import VizlogTypeError


def module_structure(model: Any) -> tuple[tuple[str, str, int], ...]:
    """One ``(path, class name, own parameter count)`` row per module, root first."""
    return tuple(
        (path, type(module).__name__, sum(p.numel() for p in module.parameters(recurse=False)))
        for path, module in model.named_modules()
    )


def _tracer() -> Any:
    """The writers' graph builder, whichever is installed (both make the same GraphDef)."""
    try:
        from torch.utils.tensorboard._pytorch_graph import graph as build
    except ImportError:
        from tensorboardX.pytorch_graph import graph as build  # type: ignore[no-redef]
    return build


def trace_graph_def(model: Any, input_to_model: Any) -> tuple[bytes, str | None]:
    """The serialised GraphDef of ``model`` run on ``input_to_model``, and why it failed if it
    did (``b""`` then): an untraceable model must not stop the training run."""
    if input_to_model is None:
        return b"", "no input_to_model was given, and tracing needs an example input"
    try:
        tracer = _tracer()
    except ImportError as exc:
        return b"", f"no graph tracer is installed ({exc})"
    args = input_to_model if isinstance(input_to_model, tuple | list) else (input_to_model,)
    # the writers' tracer prints its errors to stdout before raising; the warning says it once
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        # torch.jit.trace is deprecated in favour of torch.export and warns on every call;
        # tracer warnings about data-dependent control flow are noise here too.
        warnings.simplefilter("ignore")
        try:
            graph_def, _ = tracer(model, tuple(args), verbose=False, use_strict_trace=True)
        except Exception as exc:  # noqa: BLE001 - any failure of user code while tracing
            message = str(exc).strip().splitlines()
            return b"", f"{type(exc).__name__}: {message[0] if message else ''}"
    return graph_def.SerializeToString(), None


def check_model(model: Any) -> None:
    try:
        import torch
    except ImportError as exc:
        raise VizlogTypeError("graph(model=...): drawing a model graph needs torch") from exc
    if not isinstance(model, torch.nn.Module):
        raise VizlogTypeError(
            f"graph(model=...): expected a torch.nn.Module, got {type(model).__name__}"
        )
