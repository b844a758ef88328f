"""TensorBoard with summaries built by tensorboardX (no torch needed to write)."""

from __future__ import annotations

from types import ModuleType

from vizlog.backends.tensorboard.writer import SummaryWriterBackend


class TensorBoardXBackend(SummaryWriterBackend):
    name = "tensorboardx"

    def summary_module(self) -> ModuleType:
        from tensorboardX import summary

        return summary
