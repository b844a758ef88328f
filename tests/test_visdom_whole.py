"""Line windows this process created are sent whole (``/events``), others get appends.

Against a real Visdom server: what the server holds is read back, and the requests made are
counted on the way.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
import warnings

import pytest

from tests.test_visdom import CountingHTTP, read_windows, trace
from vizlog.backends.visdom import backend as visdom_backend
from vizlog.backends.visdom import copies
from vizlog.backends.visdom.backend import VisdomBackend
from vizlog.backends.visdom.payloads import APPEND, Op
from vizlog.backends.visdom.views import line_trace
from vizlog.records import Scalar, Scalars

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _env() -> str:
    return "w" + uuid.uuid4().hex[:10]


def _scalars(tag: str, steps: range) -> list[Scalar]:
    return [Scalar(tag, s, 0.0, float(s) / 2) for s in steps]


def test_a_new_window_is_sent_whole_each_time(visdom_server, tmp_path):
    env = _env()
    backend = VisdomBackend(str(tmp_path), server=visdom_server.url, env=env)
    spy = backend._http = CountingHTTP(backend._http)
    for start in (0, 100, 200):  # three sends: the window grows by 100 points each time
        backend.write_batch(_scalars("loss", range(start, start + 100)))
        backend.write_batch([Scalars("acc", s, 0.0, {"train": s, "val": -s, "test": float("nan")})
                             for s in range(start, start + 100)])
        backend.flush()
    backend.close()
    assert spy.calls.count("update") == 0
    assert spy.calls.count("events") == 6  # one per window per send
    windows = read_windows(visdom_server, env)
    loss = trace(windows["scalar:loss"], "loss")
    assert loss["x"] == list(range(300)) and loss["y"] == [s / 2 for s in range(300)]
    acc = windows["scalars:acc"]["content"]["data"]
    assert [t["name"] for t in acc] == ["train", "val", "test"]  # first-logged order
    assert acc[1]["y"] == [-float(s) for s in range(300)]
    assert acc[2]["y"] == [None] * 300  # NaN is a gap, as with appends
    assert windows["scalars:acc"]["title"] == "acc"


def test_a_window_already_on_the_server_gets_appends_and_keeps_its_points(
        visdom_server, tmp_path):
    env = _env()
    earlier = VisdomBackend(str(tmp_path / "earlier"), server=visdom_server.url, env=env)
    earlier.write_batch(_scalars("loss", range(50)))
    earlier.close()
    backend = VisdomBackend(str(tmp_path / "now"), server=visdom_server.url, env=env)
    spy = backend._http = CountingHTTP(backend._http)
    backend.write_batch(_scalars("loss", range(50, 80)))
    backend.flush()
    backend.close()
    assert spy.calls.count("update") == 1 and spy.calls.count("events") == 0
    assert trace(read_windows(visdom_server, env)["scalar:loss"], "loss")["x"] == list(range(80))


def test_a_window_past_its_size_limit_goes_on_with_appends(visdom_server, tmp_path, monkeypatch):
    monkeypatch.setattr(copies, "WINDOW_POINTS", 150)
    env = _env()
    backend = VisdomBackend(str(tmp_path), server=visdom_server.url, env=env)
    spy = backend._http = CountingHTTP(backend._http)
    for start in range(0, 400, 100):
        backend.write_batch(_scalars("loss", range(start, start + 100)))
        backend.flush()
    backend.close()
    # whole at 100 points, whole again to 200 (the copy is then let go), appends after that
    assert spy.calls.count("events") == 2 and spy.calls.count("update") == 2
    assert trace(read_windows(visdom_server, env)["scalar:loss"], "loss")["x"] == list(range(400))


def test_a_server_that_lost_its_disk_gets_the_whole_window_back(tmp_path, start_visdom):
    """The server saved, then came back with none of its files: appends could only resend
    what was logged since the save; the copy puts back every point, with no warning, even
    for a window that gets no new points."""
    env = _env()
    server = start_visdom(env_path=tmp_path / "env-a")
    backend = VisdomBackend(str(tmp_path / "run"), server=server.url, env=env, save_interval=0.05)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        backend.write_batch(_scalars("loss", range(300)))
        backend.flush()
        time.sleep(0.1)
        backend.write_batch(_scalars("loss", range(300, 310)))
        backend.flush()  # saved by now: the ledger's journal no longer holds the first 300
        assert backend.spool.ledger.journal_size < 300
        os.killpg(server.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
        backend.write_batch(_scalars("other", range(5)))
        backend.flush()  # refused: into the spool
        fresh = start_visdom(port=server.port, env_path=tmp_path / "env-b")
        backend.write_batch(_scalars("other", range(5, 10)))
        backend.close()
    lost = [w for w in caught if "cannot be resent" in str(w.message)]
    assert lost == []
    windows = read_windows(fresh, env)
    assert trace(windows["scalar:loss"], "loss")["x"] == list(range(310))
    assert trace(windows["scalar:other"], "other")["x"] == list(range(10))


def test_sends_are_spaced_by_how_long_they_take(visdom_server, tmp_path):
    """A send that took ``t`` (here a server slowed to 0.06 s a request) is followed by the
    next only ``t / SEND_SHARE`` later, not after the usual ``SEND_INTERVAL``."""

    class Slow(CountingHTTP):
        def post(self, endpoint, message, timeout=None):
            if endpoint == "events":
                time.sleep(0.06)
            return super().post(endpoint, message, timeout)

    backend = VisdomBackend(str(tmp_path), server=visdom_server.url, env=_env())
    spy = backend._http = Slow(backend._http)
    backend.write_batch(_scalars("loss", range(10)))
    backend.flush()
    took = backend._send_took
    assert took >= 0.06 > visdom_backend.SEND_INTERVAL * visdom_backend.SEND_SHARE
    sends = spy.calls.count("events")
    backend.write_batch(_scalars("loss", range(10, 20)))
    time.sleep(visdom_backend.SEND_INTERVAL + 0.1)
    backend.tick()
    if time.monotonic() - backend._sent_at < took / visdom_backend.SEND_SHARE:
        assert spy.calls.count("events") == sends  # due by the interval, held by the pace
    time.sleep(max(0.0, took / visdom_backend.SEND_SHARE - visdom_backend.SEND_INTERVAL))
    backend.tick()
    assert spy.calls.count("events") == sends + 1
    backend.close()


def _op(win: str, names: tuple[str, ...], items: tuple) -> Op:
    return Op(win=win, mode=APPEND, names=names, items=items,
              template={"layout": {"title": win}, "opts": {"title": win}})


def test_the_whole_message_holds_what_appends_would_have_built():
    held = copies.WindowCopies()
    held.adopt("w", {"layout": {"title": "w"}, "opts": {"title": "w"}})
    first = _op("w", ("a", "b"), ((0, (1.5, float("inf"))), (1, (2.5, 3.0))))
    held.add(first, first.items)
    new = _op("w", ("c",), ((7, (float("nan"),)),))
    message = json.loads(held.message("w", "env", [(new, copies.encode(new, new.items))]))
    assert message["eid"] == "env" and message["win"] == "w"
    assert message["layout"] == {"title": "w"} and message["opts"] == {"title": "w"}
    expected = [line_trace("a", [0, 1], [1.5, 2.5]), line_trace("b", [0, 1], [None, 3.0]),
                line_trace("c", [7], [None])]
    assert message["data"] == expected
    assert held.count("w", "a") == 2 and held.count("w", "c") == 0  # "c" not confirmed yet


def test_copies_past_their_memory_budget_are_let_go_largest_first(monkeypatch):
    monkeypatch.setattr(copies, "TOTAL_BYTES", 3_000)
    held = copies.WindowCopies()
    for win, points in (("small", 10), ("large", 150), ("medium", 60)):
        held.adopt(win, {"layout": {}, "opts": {}})
        op = _op(win, ("y",), tuple((i, (0.123456789,)) for i in range(points)))
        held.add(op, op.items)
    assert "large" not in held and "small" in held and "medium" in held
    assert held.decided("large")  # appended to from now on, never adopted again


def test_a_large_send_lets_the_training_thread_in_between_records_and_windows(
        visdom_server, tmp_path):
    """A send of many held records is Python work on the sender; it calls ``pause`` (set by
    the delivery thread) every ``PAUSE_EVERY`` records and between windows, and still
    delivers every point."""
    from vizlog.backends.visdom import sender as visdom_sender

    env = _env()
    backend = VisdomBackend(str(tmp_path), server=visdom_server.url, env=env)
    pauses = []
    backend.pause = lambda: pauses.append(1)
    records = [r for tag in ("a", "b", "c") for r in _scalars(tag, range(1000))]
    backend.write_batch(records)
    backend.flush()
    backend.close()
    assert len(pauses) >= len(records) // visdom_sender.PAUSE_EVERY + 3
    windows = read_windows(visdom_server, env)
    assert [len(trace(windows[f"scalar:{tag}"], tag)["x"]) for tag in "abc"] == [1000] * 3
