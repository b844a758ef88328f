"""One run's directory read back event by event, the way the framework tests check it.

``EventAccumulator`` keeps only the last graph and drops points it considers stale, so it
cannot show that something was logged twice; this reads every event of every file in the run
directory (and only that directory: a sub-directory would be another run in TensorBoard).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.util import tensor_util


@dataclass
class Run:
    #: tag -> every (step, value) in the order written, duplicates included
    scalars: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    #: tag -> every step of a non-scalar summary (histograms, images, text)
    others: dict[str, list[int]] = field(default_factory=dict)
    graphs: int = 0
    #: the hyperparameters of the last session_start_info, and how many were written
    hparams: dict[str, object] = field(default_factory=dict)
    hparams_written: int = 0
    #: the metric tags the last experiment summary names
    hparam_metrics: list[str] = field(default_factory=list)

    def steps(self, tag: str) -> list[int]:
        return [step for step, _ in self.scalars.get(tag, [])]

    def repeated(self, tags: list[str] | None = None) -> dict[str, list[int]]:
        """Tags with a step written more than once (over ``tags``, default every tag)."""
        out = {}
        for tag in tags if tags is not None else list(self.scalars) + list(self.others):
            steps = self.steps(tag) if tag in self.scalars else self.others.get(tag, [])
            twice = sorted(s for s, n in Counter(steps).items() if n > 1)
            if twice:
                out[tag] = twice
        return out


def _hparam_value(value: object) -> object:
    kind = value.WhichOneof("kind")  # type: ignore[attr-defined]
    return getattr(value, kind) if kind else None


def read_run(logdir: str | os.PathLike[str]) -> Run:
    run = Run()
    files = sorted(Path(logdir).glob("events.out.tfevents.*"))
    assert files, f"no event file in {logdir}"
    for path in files:
        for event in EventFileLoader(str(path)).Load():
            if event.HasField("graph_def"):
                run.graphs += 1
            for value in event.summary.value:
                plugin = value.metadata.plugin_data
                if plugin.plugin_name == "hparams":
                    data = plugin_data_pb2.HParamsPluginData.FromString(plugin.content)
                    if data.HasField("experiment"):
                        run.hparam_metrics = [m.name.tag for m in data.experiment.metric_infos]
                    if data.HasField("session_start_info"):
                        run.hparams_written += 1
                        run.hparams = {k: _hparam_value(v)
                                       for k, v in data.session_start_info.hparams.items()}
                    continue
                if value.HasField("simple_value"):
                    number = float(value.simple_value)
                elif plugin.plugin_name == "scalars" and value.HasField("tensor"):
                    number = float(tensor_util.make_ndarray(value.tensor).item())
                else:
                    run.others.setdefault(value.tag, []).append(event.step)
                    continue
                run.scalars.setdefault(value.tag, []).append((event.step, number))
    return run


def subruns(logdir: str | os.PathLike[str]) -> list[str]:
    """Directories below the run that hold event files: TensorBoard shows each as a run."""
    return sorted(
        os.path.relpath(root, logdir)
        for root, _, names in os.walk(logdir)
        if root != str(logdir) and any(n.startswith("events.out.tfevents.") for n in names)
    )


def visdom_windows(server, env: str) -> dict:
    from visdom import Visdom

    client = Visdom(server=f"http://{server.host}", port=server.port,
                    use_incoming_socket=False, raise_exceptions=True)
    return json.loads(client.get_window_data(env=env))


def visdom_points(windows: dict, tag: str) -> list[tuple[int, float]]:
    """The (x, y) points of a scalar tag's window."""
    window = windows[f"scalar:{tag}"]
    (trace,) = [t for t in window["content"]["data"] if t["name"] == tag]
    return list(zip(trace["x"], trace["y"], strict=True))
