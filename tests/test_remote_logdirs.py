"""Remote logdirs: runs written to a real S3 API (moto's server on 127.0.0.1) and to
``memory://``, read back by vizlog and by TensorBoard itself, through store outages.

Every server here is started by the tests on a free port and stopped by them.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import urllib.request
import warnings

import numpy as np
import pytest
import torch
from eventfiles import EVERYTHING, decode_png
from s3server import KEY, SECRET, S3Server, restore, s3fs, snapshot

import vizlog
from vizlog import cli, logdirs, servers
from vizlog.backends.tensorboard import storage, uploader

pytest.importorskip("s3fs")
pytest.importorskip("moto")


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory):
    recording = str(tmp_path_factory.mktemp("moto") / "requests.jsonl")
    with S3Server(recording=recording) as server:
        yield server


@pytest.fixture(autouse=True)
def _spool_and_fresh_clients(tmp_path, monkeypatch):
    """Each test gets its own local spool, and store clients made from its configuration."""
    import s3fs as s3fs_module

    monkeypatch.setenv("VIZLOG_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no lookups beyond 127.0.0.1
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    s3fs_module.S3FileSystem.clear_instance_cache()
    yield
    s3fs_module.S3FileSystem.clear_instance_cache()


@pytest.fixture
def s3_env(s3, monkeypatch):
    """The standard AWS configuration pointing at the module's server, and a fresh bucket."""
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)
    bucket = f"b{time.monotonic_ns()}"
    s3fs(s3).mkdir(bucket)
    return bucket


def _log_every_concept(log: vizlog.Logger, steps: int) -> None:
    for step in range(steps):
        log.scalar("loss", 1.0 / (step + 1), step)
        log.scalars("acc", {"train": step / 10, "val": step / 20}, step)
        time.sleep(0.01)
    log.histogram("weights", torch.arange(100.0), 1)
    log.image("red", np.full((6, 5, 3), [255, 0, 0], dtype=np.uint8), 1, dataformats="HWC")
    log.text("note", "hello *store*", 1)
    log.pr_curve("pr", [0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3], 1)
    log.graph(torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.ReLU()), torch.zeros(1, 4))
    log.embedding(np.eye(3), metadata=["a", "b", "c"], step=1, tag="points")


def _accumulate(url: str, monkeypatch: pytest.MonkeyPatch):
    """TensorBoard's own loader on the URL, configured as `vizlog serve` configures it."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for name, value in logdirs.tensorboard_env(url).items():
        monkeypatch.setenv(name, value)
    acc = EventAccumulator(url, size_guidance=EVERYTHING)
    acc.Reload()
    return acc


@pytest.mark.parametrize("backend", ["tensorboard", "tensorboardx"])
def test_run_on_s3_is_read_back_by_vizlog_and_by_tensorboard(s3_env, backend, monkeypatch):
    url = f"s3://{s3_env}/runs/exp1"
    with vizlog.Logger(backend, url, flush_secs=0.05) as log:
        _log_every_concept(log, 40)
    names = [p.rsplit("/", 1)[1] for p in s3fs_of_env().find(f"{s3_env}/runs/exp1")]
    events = sorted(n for n in names if "tfevents" in n)
    assert len(events) > 3, "a new object per upload interval"
    assert "projector_config.pbtxt" in names
    assert not os.path.exists("s3:"), "nothing written locally under the URL's name"

    frame = vizlog.read_scalars(f"s3://{s3_env}/runs")
    loss = frame[frame.tag == "loss"]
    assert list(loss.run.unique()) == ["exp1"]
    assert list(loss.step) == list(range(40))
    np.testing.assert_allclose(loss.value, [1.0 / (s + 1) for s in range(40)], rtol=1e-6)
    assert list(frame[frame.tag == "acc/val"].step) == list(range(40))

    acc = _accumulate(url, monkeypatch)
    assert [e.step for e in acc.Scalars("loss")] == list(range(40)), "each point once, in order"
    assert acc.Histograms("weights")[0].histogram_value.num == 100
    (image,) = acc.Images("red")
    assert decode_png(image.encoded_image_string)[0, 0].tolist()[:3] == [255, 0, 0]
    tensors = acc.Tags()["tensors"]
    assert "pr" in tensors and any(tag.startswith("note") for tag in tensors)
    assert {node.op for node in acc.Graph().node} & {"aten::linear", "aten::relu"}


def s3fs_of_env():
    import s3fs as s3fs_module

    return s3fs_module.S3FileSystem(skip_instance_cache=True)


def test_upload_sends_each_object_once_and_never_rewrites(s3, s3_env):
    url = f"s3://{s3_env}/run"
    s3.reset_recording()
    with vizlog.Logger("tensorboard", url, flush_secs=0.05) as log:
        for step in range(300):
            log.scalar("loss", float(step), step)
            if step % 30 == 0:
                time.sleep(0.06)
    fs = s3fs_of_env()
    stored = {p.rsplit("/", 1)[1]: fs.size(p) for p in fs.find(f"{s3_env}/run")}
    puts = [r for r in s3.requests()
            if r["method"] == "PUT" and f"/{s3_env}/run/events" in r["url"]]
    sent = [int(r["headers"].get("X-Amz-Decoded-Content-Length")
                or r["headers"]["Content-Length"]) for r in puts]
    assert len(puts) == len(stored) > 3, "one request per object, none repeated"
    assert sum(sent) == sum(stored.values()), "the bytes sent are the bytes stored"
    assert len({r["url"] for r in puts}) == len(puts)


def test_tensorboard_serves_the_s3_run_over_http(s3, s3_env, monkeypatch):
    url = f"s3://{s3_env}/runs/exp1"
    with vizlog.Logger("tensorboard", url) as log:
        _log_every_concept(log, 5)
    # The server gets the store from storage_options alone, as a Logger could have.
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    options = {"endpoint_url": s3.url, "key": KEY, "secret": SECRET}
    with servers.serve("tensorboard", logdir=f"s3://{s3_env}/runs", port=0,
                       storage_options=options) as server:
        def get(path: str):
            with urllib.request.urlopen(server.url + path, timeout=10) as response:
                return json.loads(response.read())

        deadline = time.monotonic() + 60
        while "exp1" not in get("data/runs"):
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.3)
        points = get("data/plugin/scalars/scalars?run=exp1&tag=loss")
        assert [p[1] for p in points] == list(range(5))
        assert [round(p[2], 4) for p in points] == [round(1 / (s + 1), 4) for s in range(5)]
        assert "weights" in get("data/plugin/histograms/tags")["exp1"]
        assert "red" in get("data/plugin/images/tags")["exp1"]


def test_store_killed_and_restarted_mid_run_loses_and_repeats_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(uploader, "RETRY_FIRST", 0.1)
    monkeypatch.setattr(uploader, "RETRY_LAST", 0.3)
    monkeypatch.setattr(uploader, "MEMORY_LIMIT", 2000)  # the outage spills to disk
    server = S3Server().start()
    try:
        fs = s3fs(server)
        fs.mkdir("bkt")
        # quick failures while the store is down (the defaults retry for seconds)
        options = {"endpoint_url": server.url, "key": KEY, "secret": SECRET,
                   "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1}}
        timings: list[float] = []
        step = 0

        def log_some(log: vizlog.Logger, count: int) -> None:
            nonlocal step
            for _ in range(count):
                begin = time.perf_counter()
                log.scalar("loss", float(step), step)
                timings.append(time.perf_counter() - begin)
                step += 1
            log.flush()

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            log = vizlog.Logger("tensorboard", "s3://bkt/run", flush_secs=3600,
                                storage_options=options)
            log_some(log, 500)
            store = log.get_backend("tensorboard")._store
            _wait(lambda: store.uploader.sent == 1)
            before = snapshot(fs, "bkt")
            server.kill()
            for _ in range(6):  # an outage: calls go on, objects wait in memory, then on disk
                log_some(log, 500)
                time.sleep(0.2)
            _wait(lambda: os.path.isdir(store.uploader.spool)
                  and len(os.listdir(store.uploader.spool)) > 1)
            server.start()
            restore(s3fs(server), "bkt", before)
            log_some(log, 500)
            assert log.close(timeout=60)
        outage = [w for w in caught if "cannot write to s3://bkt/run" in str(w.message)]
        assert len(outage) == 1, [str(w.message) for w in caught]
        assert "logging goes on" in str(outage[0].message)
        assert not os.path.exists(store.uploader.spool), "the spool is removed once sent"

        rows = vizlog.read_scalars("s3://bkt/run", storage_options=options)
        assert list(rows.step) == list(range(4000)), "nothing lost, nothing twice"
        assert statistics.median(timings) < 100e-6, "logging calls stay microseconds"
        assert max(timings) < 0.5, "no call waited for the store"
    finally:
        server.stop()


def _wait(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_close_during_outage_is_bounded_and_says_where_the_rest_is(tmp_path, monkeypatch):
    monkeypatch.setattr(uploader, "CLOSE_STALL_SECONDS", 1.0)
    server = S3Server().start()
    try:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        s3fs(server).mkdir("bkt")
        log = vizlog.Logger("tensorboard", "s3://bkt/run")
        server.kill()
        for step in range(100):
            log.scalar("loss", float(step), step)
        begin = time.monotonic()
        with pytest.warns(RuntimeWarning, match=r"could not be sent before close\(\)") as info:
            log.close()
        assert time.monotonic() - begin < 15
        message = str(info[-1].message)
        spool = message.split("they are kept in ")[1].split(":")[0]
        assert spool.startswith(str(tmp_path / "spool" / "s3" / "bkt" / "run"))
        assert f"vizlog upload {spool}" in message
        assert os.listdir(spool)

        server.start()
        s3fs(server).mkdir("bkt")
        assert cli.main(["upload", spool]) == 0
        assert not os.path.exists(spool)
        rows = vizlog.read_scalars("s3://bkt/run")
        assert list(rows.step) == list(range(100))
    finally:
        server.stop()


def test_missing_bucket_is_one_clear_error_at_construction(s3_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(vizlog.VizlogValueError,
                       match=r"cannot write to 's3://no-such-bucket/run': the bucket .* does "
                             "not exist"):
        vizlog.Logger("tensorboard", "s3://no-such-bucket/run")
    assert os.listdir(tmp_path) == ["spool"] or not os.listdir(tmp_path)


def test_bad_credentials_are_one_clear_error_at_construction(s3, s3_env):
    s3.check_credentials(True)
    try:
        with pytest.raises(vizlog.VizlogValueError, match="access denied: check the credentials"):
            vizlog.Logger("tensorboard", f"s3://{s3_env}/run")
    finally:
        s3.check_credentials(False)
    assert not s3fs(s3).find(s3_env), "nothing was left in the store"


def test_export_cli_reads_an_s3_logdir(s3_env, capsys):
    with vizlog.Logger("tensorboardx", f"s3://{s3_env}/r") as log:
        for step in range(3):
            log.scalar("x", step * 2.0, step)
    assert cli.main(["export", f"s3://{s3_env}", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["run"], r["step"], r["value"]) for r in rows] == [("r", s, s * 2.0)
                                                                for s in range(3)]


def test_memory_store_and_file_urls(tmp_path):
    import fsspec

    with vizlog.Logger("tensorboard", "memory://mem/run", flush_secs=0.05) as log:
        for step in range(30):
            log.scalar("y", step, step)
            time.sleep(0.005)
        log.embedding(np.eye(2), metadata=["p", "q"], step=2)
    fs = fsspec.filesystem("memory")
    assert fs.cat_file("/mem/run/00002/default/metadata.tsv") == b"p\nq\n"
    assert b'tensor_path: "00002/default/tensors.tsv"' in fs.cat_file(
        "/mem/run/projector_config.pbtxt")
    assert list(vizlog.read_scalars("memory://mem/run").step) == list(range(30))

    with vizlog.Logger("tensorboard", f"file://{tmp_path}/local") as log:  # the local fast path
        log.scalar("y", 1.0, 0)
        assert isinstance(log.get_backend("tensorboard")._file, storage.LocalEventFile)
    (event_file,) = (tmp_path / "local").glob("events.out.tfevents.*")
    assert event_file.name.count(".") == 6  # events.out.tfevents.<time>.<host>.<pid>.<n>


def test_scalars_keys_are_runs_of_their_own_on_a_store_too():
    import fsspec

    from vizlog.backends.tensorboard.scalars_layout import KEY_FILE_SUFFIX

    with vizlog.Logger("tensorboard", "memory://keys/run", flush_secs=0.05) as log:
        log.scalars("loss", {"train": 1.0, "val": 2.0}, 0)
    names = fsspec.filesystem("memory").find("/keys/run")
    for key in ("train", "val"):
        assert [n for n in names if n.startswith(f"/keys/run/{key}/events.out.tfevents.")
                and n.endswith(KEY_FILE_SUFFIX)], names
    rows = vizlog.read_scalars("memory://keys").to_dict("records")
    assert {(r["run"], r["tag"], r["value"]) for r in rows} == {
        ("run", "loss/train", 1.0), ("run", "loss/val", 2.0)}


def test_missing_store_package_names_the_extra():
    try:
        import gcsfs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("gcsfs is installed")
    with pytest.raises(ImportError, match=r'pip install "vizlog\[gcs\]"'):
        vizlog.Logger("tensorboard", "gs://bucket/run")


def test_visdom_spool_of_a_remote_logdir_stays_local(tmp_path):
    pytest.importorskip("visdom")
    dead = f"http://127.0.0.1:{servers.free_port()}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with vizlog.Logger("visdom", "s3://bkt/exp7", server=dead) as log:
            log.scalar("loss", 1.0, 0)
    home = tmp_path / "spool" / "s3" / "bkt" / "exp7"
    assert (home / "visdom-spool.jsonl").exists()


def test_objects_grow_longer_as_the_run_does_and_big_intervals_split(monkeypatch):
    import fsspec

    store = storage.ObjectStore("memory://grow/run")
    events = store.event_file(2.0)
    seen = {}
    for objects in (0, 249, 250, 500, 1000, 1249, 1250, 100_000):
        events.objects = objects
        seen[objects] = events.interval()
    assert seen == {0: 2.0, 249: 2.0, 250: 4.0, 500: 8.0, 1000: 32.0, 1249: 32.0, 1250: 64.0,
                    100_000: 64.0}
    # a day at the default 2 s: five doublings (15,500 s), then one object a minute
    assert 1250 + (86_400 - 250 * (2 + 4 + 8 + 16 + 32)) // 64 < 2_400
    monkeypatch.setattr(storage, "SEGMENT_BYTES", 1000)
    events.objects = 0
    for _ in range(100):
        events.write(b"x" * 100)  # each 116 bytes framed: a new object every 9 events
    store.close()
    names = sorted(fsspec.filesystem("memory").ls("/grow/run", detail=False))
    assert len(names) == 11, "objects cut by size, not by time"


def test_unreachable_endpoint_is_one_clear_error_at_construction():
    dead = f"http://127.0.0.1:{servers.free_port()}"
    options = {"endpoint_url": dead, "key": KEY, "secret": SECRET,
               "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1}}
    with pytest.raises(vizlog.VizlogValueError, match="cannot write to 's3://bkt/run': "
                                                      "EndpointConnectionError"):
        vizlog.Logger("tensorboard", "s3://bkt/run", storage_options=options)


def test_tensorboard_gets_the_store_configuration():
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    assert logdirs.tensorboard_env("s3://b/r", None, env) == {"S3_ENDPOINT": "http://127.0.0.1:9"}
    options = {"endpoint_url": "http://e:1", "key": "k", "secret": "s",
               "client_kwargs": {"region_name": "eu-west-3"}}
    assert logdirs.tensorboard_env("s3://b/r", options, {}) == {
        "S3_ENDPOINT": "http://e:1", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "eu-west-3"}
    assert logdirs.tensorboard_env("s3://b/r", None, {"S3_ENDPOINT": "x",
                                                      "AWS_ENDPOINT_URL": "y"}) == {}
    assert logdirs.tensorboard_env("runs/exp1", options, {}) == {}
