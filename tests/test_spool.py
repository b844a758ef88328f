"""The on-disk spool: order, partial delivery bookkeeping, crash safety."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from vizlog.backends.visdom.replay import replay
from vizlog.backends.visdom.spool import Spool, pending_records
from vizlog.records import Histogram, Scalar, Text


def _scalars(n, start=0):
    return [Scalar("loss", i, 1.0 + i, float(i) / 2) for i in range(start, start + n)]


def test_append_read_consume_in_order(tmp_path):
    spool = Spool(tmp_path)
    assert spool.pending == 0 and not os.path.exists(spool.path)
    spool.append(_scalars(10))
    spool.append([Text("t", 3, 0.0, "hé\nllo")])
    assert spool.pending == 11
    first = spool.read(4)
    assert [r.step for r in first] == [0, 1, 2, 3]
    spool.consume(4)
    assert spool.pending == 7
    rest = spool.read(100)
    assert [r.step for r in rest[:6]] == [4, 5, 6, 7, 8, 9] and rest[6].text == "hé\nllo"
    spool.consume(len(rest))
    assert spool.pending == 0
    assert not os.path.exists(spool.path) and not os.path.exists(spool.state_path)


def test_reopen_continues_where_delivery_stopped(tmp_path):
    spool = Spool(tmp_path)
    spool.set_meta(server="http://127.0.0.1:1", env="run")
    spool.append(_scalars(5))
    spool.read(2)
    spool.consume(2)
    spool.set_done({0: {"scalar:loss\x1floss"}})
    spool.close()
    again = Spool(tmp_path)
    assert again.pending == 3
    assert [r.step for r in again.read(10)] == [2, 3, 4]
    assert again.done == {0: {"scalar:loss\x1floss"}}
    assert again.meta == {"server": "http://127.0.0.1:1", "env": "run"}
    again.read(1)
    again.consume(1)  # the done marks move with the records they belong to
    assert again.done == {}


def test_torn_last_line_is_dropped(tmp_path):
    spool = Spool(tmp_path)
    spool.append(_scalars(3))
    spool.close()
    with open(spool.path, "a", encoding="utf-8") as f:
        f.write('{"tag": "loss", "st')  # a crash in the middle of a write
    again = Spool(tmp_path)
    assert again.pending == 3
    again.append(_scalars(1, start=3))
    assert [r.step for r in again.read(10)] == [0, 1, 2, 3]


def test_arrays_survive_the_round_trip(tmp_path):
    record = Histogram(
        "w", 1, 0.0, -1.0, 1.0, 3, 0.0, 2.0, np.array([-1.0, 0.0, 1.0]), np.array([0.0, 1, 2])
    )
    spool = Spool(tmp_path)
    spool.append([record])
    (back,) = pending_records(tmp_path)
    np.testing.assert_array_equal(back.bucket_counts, record.bucket_counts)
    assert back.bucket_limits.dtype == np.float64


def test_state_file_is_valid_json_after_every_step(tmp_path):
    spool = Spool(tmp_path)
    spool.append(_scalars(3))
    spool.read(1)
    spool.consume(1)
    with open(spool.state_path, encoding="utf-8") as f:
        state = json.load(f)
    assert state["offset"] > 0 and not os.path.exists(spool.state_path + ".tmp")


def test_replay_of_nothing_is_zero(tmp_path):
    assert replay(tmp_path) == 0


def test_replay_needs_a_directory(tmp_path):
    with pytest.raises(ValueError, match="logdir"):
        replay(tmp_path / "missing")


def test_each_live_owner_gets_its_own_spool_and_a_resumed_run_its_predecessors(tmp_path):
    from vizlog.backends.visdom.spool import SpoolBusy

    a = Spool.claim(tmp_path, "http://127.0.0.1:1", "train")
    b = Spool.claim(tmp_path, "http://127.0.0.1:1", "train")  # same destination, still apart
    assert (a.name, b.name) == ("visdom-spool", "visdom-spool-2")
    a.append(_scalars(2))
    b.append(_scalars(3, start=10))
    with pytest.raises(SpoolBusy):  # what ``vizlog replay`` meets while a Logger lives
        Spool(tmp_path, a.name, lock=True)
    a.close()  # leaves two records for "train"
    c = Spool.claim(tmp_path, "http://127.0.0.1:1", "eval")
    assert c.name == "visdom-spool-3" and c.pending == 0  # not another destination's records
    d = Spool.claim(tmp_path, "http://127.0.0.1:1", "train")
    assert d.name == "visdom-spool" and [r.step for r in d.read(10)] == [0, 1]
    assert [r.step for r in pending_records(tmp_path)] == [0, 1, 10, 11, 12]
    for spool in (b, c, d):
        spool.close()
    assert not (tmp_path / "visdom-spool-3.jsonl").exists()  # nothing kept, nothing left
    assert not list(tmp_path.glob("*.lock"))
