"""TensorBoard through tensorboardX (no torch needed to write)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from vizlog.backends.tensorboard import SummaryWriterBackend


class TensorBoardXBackend(SummaryWriterBackend):
    name = "tensorboardx"

    def make_writer(self, logdir: str, flush_secs: float, max_queue: int) -> Any:
        from tensorboardX import SummaryWriter

        return SummaryWriter(logdir=logdir, flush_secs=flush_secs, max_queue=max_queue)

    def event_pb2(self) -> ModuleType:
        from tensorboardX.proto import event_pb2

        return event_pb2
