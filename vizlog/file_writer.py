"""``SummaryWriter.file_writer``: the writers' ``FileWriter`` API (``add_event``,
``add_summary``, ``add_graph``, ...) for code that builds its own protobufs, such as
Lightning's hparams or tensorboardX's own ``add_hparams``.

Everything goes through the SummaryWriter's Logger as raw TensorBoard events, so it lands in
the same event file, in order with the rest, and a closed writer is reopened as theirs is.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from vizlog.concepts.tensorboard_event import event_class

if TYPE_CHECKING:
    from vizlog.summary_writer import SummaryWriter


class FileWriter:
    """A view of one SummaryWriter's run with the writers' ``FileWriter`` methods."""

    def __init__(self, writer: SummaryWriter) -> None:
        self._writer = writer

    def get_logdir(self) -> str:
        return self._writer.log_dir

    def add_event(self, event: Any, step: int | None = None,
                  walltime: float | None = None) -> None:
        """An ``Event`` protobuf; ``step``/``walltime`` None keep its own (or
        ``use_metadata``'s)."""
        step, walltime = self._writer._at(step, walltime)
        self._writer._log().tensorboard_event(event, step, walltime)

    def add_summary(self, summary: Any, global_step: int | None = None,
                    walltime: float | None = None) -> None:
        """A ``Summary`` protobuf, in an event at ``global_step`` (0 when None)."""
        step, walltime = self._writer._at(global_step, walltime)
        self._writer._log().tensorboard_event(summary, 0 if step is None else step, walltime)

    def add_graph(self, graph_profile: Any, walltime: float | None = None) -> None:
        """``(GraphDef, RunMetadata)`` as the writers' tracer returns them."""
        graph_def, stepstats = graph_profile
        self.add_onnx_graph(graph_def, walltime)
        package = type(graph_def).__module__.rsplit(".", 1)[0]
        event_pb2 = importlib.import_module(package + ".event_pb2")
        metadata = event_pb2.TaggedRunMetadata(tag="profiler",
                                               run_metadata=stepstats.SerializeToString())
        self.add_event(event_pb2.Event(tagged_run_metadata=metadata), 0, walltime)

    def add_onnx_graph(self, graph: Any, walltime: float | None = None) -> None:
        """A ``GraphDef`` protobuf."""
        self.add_event(event_class(graph)(graph_def=graph.SerializeToString()), 0, walltime)

    add_openvino_graph = add_onnx_graph

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    def reopen(self) -> None:
        """Open the run again after ``close()`` (a new event file); nothing if it is open."""
        self._writer._log()

    @contextlib.contextmanager
    def use_metadata(self, *, global_step: int | None = None,
                     walltime: float | None = None) -> Iterator[FileWriter]:
        with self._writer.use_metadata(global_step=global_step, walltime=walltime):
            yield self
