"""Model graphs, built in one place so the tracer can change (``torch.fx``/``torch.export``)
without touching the Logger or the backends.

Tracing happens once per ``Logger.graph`` call; every backend gets the same result.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import os
import warnings
from typing import Any

from vizlog.errors import VizlogTypeError, VizlogValueError


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


def trace_graph_def(model: Any, input_to_model: Any,
                    use_strict_trace: bool = True) -> tuple[bytes, str | None]:
    """The serialised GraphDef of ``model`` run on ``input_to_model``, and why it failed if it
    did (``b""`` then): an untraceable model must not stop the training run.

    ``use_strict_trace=False`` lets the tracer record mutable containers (lists, dicts) that
    the model returns, as in the writers' ``add_graph``."""
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
            graph_def, _ = tracer(model, tuple(args), verbose=False,
                                 use_strict_trace=use_strict_trace)
        except Exception as exc:  # noqa: BLE001 - any failure of user code while tracing
            message = str(exc).strip().splitlines()
            return b"", f"{type(exc).__name__}: {message[0] if message else ''}"
    return graph_def.SerializeToString(), None


def check_model(model: Any, use_strict_trace: Any = True) -> None:
    if not isinstance(use_strict_trace, bool):
        raise VizlogTypeError("graph(use_strict_trace=...): expected True or False")
    try:
        import torch
    except ImportError as exc:
        raise VizlogTypeError("graph(model=...): drawing a model graph needs torch") from exc
    if not isinstance(model, torch.nn.Module):
        raise VizlogTypeError(
            f"graph(model=...): expected a torch.nn.Module, got {type(model).__name__}"
        )


def _proto(name: str) -> Any:
    """A graph protobuf module of whichever writer library is installed."""
    try:
        return importlib.import_module(f"tensorboard.compat.proto.{name}")
    except ImportError:
        return importlib.import_module(f"tensorboardX.proto.{name}")


def _model_file(path: Any, method: str, arg: str) -> str:
    if not isinstance(path, str | os.PathLike) or not os.path.isfile(path):
        raise VizlogValueError(f"{method}({arg}=...): no such file: {path!r}")
    return os.fspath(path)


def onnx_graph(path: Any, method: str = "add_onnx_graph", arg: str = "onnx_model_file") -> Any:
    """The GraphDef the writers make of an ONNX model file (needs the ``onnx`` package)."""
    path = _model_file(path, method, arg)
    if importlib.util.find_spec("onnx") is None:
        raise ImportError(f"{method}() needs the 'onnx' package to read {path!r}: "
                          "pip install onnx")
    try:
        loader = importlib.import_module("torch.utils.tensorboard._onnx_graph")
    except ImportError:
        loader = importlib.import_module("tensorboardX.onnx_graph")
    with contextlib.redirect_stdout(io.StringIO()):  # the loader prints every input's name
        return loader.load_onnx_graph(path)


def openvino_graph(path: Any, method: str = "add_openvino_graph") -> Any:
    """The GraphDef tensorboardX makes of an OpenVINO IR ``.xml`` file: one node per edge's
    target layer, its input the source layer (read with the standard library)."""
    import xml.etree.ElementTree as ElementTree

    path = _model_file(path, method, "xmlname")
    try:
        root = ElementTree.parse(path).getroot()
        layers, links = root.find("layers"), root.find("edges")
        if layers is None or links is None:
            raise KeyError("no <layers> or <edges>")
        names = {layer.attrib["id"]: layer.attrib["name"] for layer in layers}
        edges = [(e.attrib["from-layer"], e.attrib["to-layer"]) for e in links]
        nodes = [(names[target], names[source]) for source, target in edges]
    except (ElementTree.ParseError, KeyError, TypeError) as exc:
        raise VizlogValueError(f"{method}(xmlname=...): not an OpenVINO IR file ({exc})") from None
    graph_pb2, node_def_pb2 = _proto("graph_pb2"), _proto("node_def_pb2")
    attr_value_pb2, versions_pb2 = _proto("attr_value_pb2"), _proto("versions_pb2")
    return graph_pb2.GraphDef(
        node=[node_def_pb2.NodeDef(name=name, op="op", input=[source],
                                   attr={"parameters": attr_value_pb2.AttrValue(s=b"")})
              for name, source in nodes],
        versions=versions_pb2.VersionDef(producer=22),
    )
