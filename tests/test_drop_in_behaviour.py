"""The drop-in's behaviour where the writers' goes beyond one call: the whole API surface,
``purge_step``, ``write_to_disk=False``, ``filename_suffix``, writes after ``close()``,
``file_writer``, ``use_metadata`` and ``export_scalars_to_json``, each read back the way
TensorBoard reads it."""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path

import numpy as np
import pytest
from eventfiles import accumulate, scalars

import vizlog

torch = pytest.importorskip("torch")
tensorboardX = pytest.importorskip("tensorboardX")
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402

BACKENDS = pytest.mark.parametrize("backend", ["tensorboard", "tensorboardx"])


def _public(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(cls).items()
            if callable(member) and not name.startswith("_")}


@pytest.mark.parametrize("writer", [TorchWriter, tensorboardX.SummaryWriter])
def test_every_public_method_and_argument_of_the_writers_is_there(writer):
    ours = _public(vizlog.SummaryWriter)
    for name, theirs in _public(writer).items():
        assert name in ours, f"vizlog.SummaryWriter has no {name}()"
        accepted = ours[name].parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
        for parameter in theirs.parameters:
            if parameter in ("self", "kwargs"):
                continue
            assert parameter in accepted or takes_any or (
                name == "add_onnx_graph" and parameter in ("prototxt", "onnx_model_file")
            ), f"{name}({parameter}=...) is missing"
    constructor = inspect.signature(vizlog.SummaryWriter.__init__).parameters
    for parameter in inspect.signature(writer.__init__).parameters:
        assert parameter in constructor or parameter == "kwargs", parameter
    for attribute in ("file_writer", "all_writers", "default_bins", "log_dir", "logdir"):
        assert hasattr(vizlog.SummaryWriter(backend="none"), attribute)


@BACKENDS
def test_purge_step_drops_the_steps_a_resumed_run_logs_again(backend, tmp_path):
    """tensorboardX's demo_purge: steps 42..99 written again after a restart at 42."""
    with vizlog.SummaryWriter(str(tmp_path), backend=backend) as w:
        for i in range(100):
            w.add_scalar("purgetest", i, i)
    with vizlog.SummaryWriter(str(tmp_path), purge_step=42, backend=backend) as w:
        for i in range(42, 100):
            w.add_scalar("purgetest", 42, i)
    shown = scalars(tmp_path, "purgetest")
    assert [step for step, _ in shown] == list(range(100))  # no duplicates, no zig-zag
    assert [value for _, value in shown] == [min(i, 42) for i in range(100)]


def test_purge_step_matches_the_writer(tmp_path):
    def resume(writer_class, logdir, **options):
        with writer_class(str(logdir), **options) as w:
            for i in range(10):
                w.add_scalar("x", i, i)
        with writer_class(str(logdir), purge_step=4, **options) as w:
            for i in range(4, 7):
                w.add_scalar("x", -i, i)
        return scalars(logdir, "x")

    assert resume(vizlog.SummaryWriter, tmp_path / "ours", backend="tensorboard") == resume(
        TorchWriter, tmp_path / "theirs")


def test_write_to_disk_false_writes_and_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("VIZLOG_BACKEND", "tensorboard,visdom")
    logdir = tmp_path / "never"
    with vizlog.SummaryWriter(str(logdir), write_to_disk=False) as w:
        w.add_scalar("data/scalar", 0.1, 0)
        w.add_scalars("data/scalars", {"a": 0.1, "b": 0.2}, 0)
        w.add_hparams({"lr": 0.1}, {"acc": 1.0})
        w.add_audio("a", np.zeros(10), 0)
        w.flush()
        assert w.logger.backends == ("none",)
    w.add_text("after", "close", 0)  # reopens, still writing nothing
    w.close()
    assert not logdir.exists() and list(tmp_path.iterdir()) == []


@BACKENDS
def test_filename_suffix_ends_the_event_file_name(backend, tmp_path):
    with vizlog.SummaryWriter(str(tmp_path), filename_suffix=".test", backend=backend) as w:
        w.add_scalar("s", 1.0, 0)
    [name] = os.listdir(tmp_path)
    assert name.startswith("events.out.tfevents.") and name.endswith(".test")
    assert scalars(tmp_path, "s") == [(0, 1.0)]


@BACKENDS
def test_writes_after_close_reopen_the_run_in_a_new_event_file(backend, tmp_path):
    writer = vizlog.SummaryWriter(str(tmp_path), backend=backend)
    writer.add_scalar("s", 1.0, 0)
    writer.close()
    assert writer.file_writer is None and writer.all_writers is None
    writer.flush()
    writer.close()  # flush and close of a closed writer do nothing, as the writers'
    writer.add_scalar("s", 2.0, 1)
    writer.add_text("reuse writer", "written after close", 0)
    assert writer.file_writer is not None
    writer.close()
    assert len(list(tmp_path.glob("events.out.tfevents*"))) == 2
    assert scalars(tmp_path, "s") == [(0, 1.0), (1, 2.0)]
    assert "reuse writer/text_summary" in accumulate(tmp_path).Tags()["tensors"]


def test_writes_after_close_match_the_writer(tmp_path):
    def run(writer):
        writer.add_scalar("s", 1.0, 0)
        writer.close()
        writer.add_scalar("s", 2.0, 1)
        writer.close()

    run(TorchWriter(str(tmp_path / "theirs")))
    run(vizlog.SummaryWriter(str(tmp_path / "ours"), backend="tensorboard"))
    assert scalars(tmp_path / "ours", "s") == scalars(tmp_path / "theirs", "s")


def test_file_writer_takes_the_writers_protobufs(tmp_path):
    from tensorboardX import summary
    from tensorboardX.proto.event_pb2 import Event

    with vizlog.SummaryWriter(str(tmp_path), backend="tensorboard") as w:
        fw = w.file_writer
        assert fw.get_logdir() == str(tmp_path)
        fw.add_summary(summary.scalar("from_summary", 3.0), 5)
        fw.add_event(Event(summary=summary.scalar("from_event", 4.0)), step=6, walltime=12.5)
        exp, ssi, sei = summary.hparams({"lr": 0.1}, {"acc": 0})  # as Lightning does
        for proto in (exp, ssi, sei):
            fw.add_summary(proto)
        with fw.use_metadata(global_step=9):
            fw.add_summary(summary.scalar("defaults", 1.0))
    acc = accumulate(tmp_path)
    assert [(e.step, e.value) for e in acc.Scalars("from_summary")] == [(5, 3.0)]
    [event] = acc.Scalars("from_event")
    assert (event.step, event.wall_time, event.value) == (6, 12.5, 4.0)
    assert [e.step for e in acc.Scalars("defaults")] == [9]
    assert "_hparams_/session_start_info" in acc.PluginTagToContent("hparams")


def test_use_metadata_sets_step_and_walltime_of_every_call(tmp_path):
    with vizlog.SummaryWriter(str(tmp_path), backend="tensorboard") as w:
        with w.use_metadata(global_step=17, walltime=13.0):
            w.add_scalar("defaults", 0.1)
            w.add_scalar("step_given", 0.2, global_step=7)
            w.add_scalar("walltime_given", 0.3, walltime=18.0)
            w.add_scalars("group", {"a": 1.0})
            with pytest.raises(vizlog.VizlogValueError, match="already"):
                with w.use_metadata(global_step=1):
                    pass
        w.add_scalar("outside", 0.4)
    acc = accumulate(tmp_path)
    stamps = {tag: (acc.Scalars(tag)[0].step, acc.Scalars(tag)[0].wall_time)
              for tag in ("defaults", "step_given", "walltime_given")}
    assert stamps == {"defaults": (17, 13.0), "step_given": (7, 13.0),
                      "walltime_given": (17, 18.0)}
    [key] = accumulate(tmp_path / "a").Scalars("group")  # scalars(): one run per key
    assert (key.step, key.wall_time) == (17, 13.0)
    assert acc.Scalars("outside")[0].wall_time > 13.0


def test_export_scalars_to_json_as_tensorboardx(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def export(writer, path):
        writer.add_scalar("single", 1.0, 0)  # not exported, as tensorboardX
        writer.add_scalars("group", {"a": 1.0, "b": np.float32(2.5)}, 3, walltime=100.0)
        writer.add_scalars("group", {"a": 4.0}, 4, walltime=101.0)
        writer.export_scalars_to_json(path)
        writer.export_scalars_to_json(path + ".again")  # forgotten once exported
        writer.close()
        return json.loads(Path(path).read_text()), json.loads(Path(path + ".again").read_text())

    theirs = export(tensorboardX.SummaryWriter("run"), "theirs.json")
    ours = export(vizlog.SummaryWriter("run", backend="tensorboardx"), "ours.json")
    assert ours == theirs and ours[1] == {}


def test_add_hparams_writes_into_the_run_itself(tmp_path):
    with vizlog.SummaryWriter(str(tmp_path), backend="tensorboard") as w:
        w.add_scalar("hparam/accuracy", 0.5, 10)
        w.add_hparams({"lr": 0.1, "bsize": 1}, {"hparam/accuracy": 0.75})
        w.add_hparams({"lr": 0.1, "bsize": 1}, {"hparam/accuracy": 0.8}, global_step=20)
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []  # no sub-run per call
    assert scalars(tmp_path, "hparam/accuracy") == [(10, 0.5), (11, 0.75), (20, 0.800000011920929)]
    assert "_hparams_/session_start_info" in accumulate(tmp_path).PluginTagToContent("hparams")


def test_both_writers_spellings_of_differing_arguments(tmp_path):
    writer = vizlog.SummaryWriter(str(tmp_path), backend="fake")
    fake = writer.logger.get_backend("fake")
    writer.add_hparams({"lr": 0.1}, {"acc": 0.5}, "trial1", 3)  # tensorboardX's positional
    writer.add_hparams({"lr": 0.2}, {"acc": 0.6}, name="trial2")
    writer.add_hparams({"lr": 0.3}, {"acc": 0.7}, None, "trial3")  # torch's run_name
    assert [(r.run, r.step) for r in fake.records("hparams")] == [
        ("trial1", 3), ("trial2", 0), ("trial3", 0)]
    writer.add_image_with_boxes("b", np.zeros((8, 8, 3)), [[1, 1, 4, 4]], 0, None, "HWC",
                                ["x"])  # tensorboardX's positional dataformats, labels
    writer.add_image_with_boxes("b", np.zeros((3, 8, 8)), [[1, 1, 4, 4]], 1, None, 2)
    assert [r.pixels.shape for r in fake.records("image")] == [(8, 8, 3), (16, 16, 3)]
    writer.add_images("list", [np.zeros((3, 4, 4)), np.ones((3, 4, 4))], 0, dataformats="CHW")
    assert fake.records("image", "list")[0].pixels.shape == (4, 8, 3)
    writer.close()


def test_purge_step_is_applied_once_not_again_at_reopen(tmp_path):
    writer = vizlog.SummaryWriter(str(tmp_path), purge_step=2, backend="tensorboard")
    for i in range(5):
        writer.add_scalar("s", i, i)
    writer.close()
    writer.add_scalar("s", 5, 5)  # reopened: steps 2-4 of this run stay
    writer.close()
    assert [step for step, _ in scalars(tmp_path, "s")] == [0, 1, 2, 3, 4, 5]


def test_flush_secs_is_vizlogs_unless_given(tmp_path, monkeypatch):
    monkeypatch.setenv("VIZLOG_FLUSH_SECS", "3")
    with vizlog.SummaryWriter(str(tmp_path / "a"), backend="tensorboard") as default:
        assert default.logger.get_backend("tensorboard").flush_secs == 3.0
    with vizlog.SummaryWriter(str(tmp_path / "b"), flush_secs=7, max_queue=5,
                              backend="tensorboard,fake") as given:
        assert given.logger.get_backend("tensorboard").flush_secs == 7.0


def test_purge_suffix_and_trial_runs_on_a_store():
    """The same writer options on a remote logdir (fsspec's in-memory store)."""
    fsspec = pytest.importorskip("fsspec")
    url = "memory://sw-surface/run"
    with vizlog.SummaryWriter(url, backend="tensorboard", flush_secs=0.05) as w:
        for i in range(6):
            w.add_scalar("s", i, i)
    with vizlog.SummaryWriter(url, purge_step=3, filename_suffix=".resumed",
                              backend="tensorboard", flush_secs=0.05) as w:
        w.add_scalar("s", -3.0, 3)
        w.add_hparams({"lr": 0.1}, {"acc": 0.5}, name="trial")
    fs = fsspec.filesystem("memory")
    names = [p.rsplit("/", 1)[-1] for p in fs.find("/sw-surface/run")]
    assert any(n.endswith(".resumed") for n in names)
    assert any(p.startswith("/sw-surface/run/trial/events.out.tfevents.")
               for p in fs.find("/sw-surface/run"))
    # TensorBoard's own loader (it reads fsspec URLs) applies the purge
    assert scalars(url, "s") == [(0, 0.0), (1, 1.0), (2, 2.0), (3, -3.0)]
