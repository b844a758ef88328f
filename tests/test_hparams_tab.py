"""Hyperparameters as TensorBoard's HParams tab shows them, asked through its own HTTP API
(``/data/plugin/hparams/...``) of a TensorBoard server started by ``vizlog.servers.serve``.

vizlog writes hparams into the run itself: the tab lists the training run (not an empty
sub-run per call), with the latest value of each metric series as training goes on.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

import vizlog
from vizlog import servers

pytest.importorskip("tensorboard")
STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]


def ask(server: servers.Server, route: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{server.url}data/plugin/hparams/{route}", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def sessions(server: servers.Server) -> dict[str, dict[str, Any]]:
    """Session name -> {"hparams", "metrics" (tag, or "tag (sub-run)" -> value), "status"}."""
    answer = ask(server, "session_groups", {
        "experimentName": "", "allowedStatuses": STATUSES, "startIndex": 0, "sliceSize": 100})
    found = {}
    for group in answer.get("sessionGroups", []):
        for session in group["sessions"]:
            found[session["name"]] = {
                "hparams": group["hparams"],
                "metrics": {_metric(m["name"]): m["value"]
                            for m in session.get("metricValues", [])},
                "status": session.get("status"),
            }
    return found


def _metric(name: dict[str, str]) -> str:
    return name["tag"] + (f" ({name['group']})" if name.get("group") else "")


def wait_for(check: Callable[[], Any], timeout: float = 45.0) -> Any:
    """TensorBoard reloads the logdir every 5 s: ask until the answer is as expected."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
        except (AssertionError, KeyError, OSError):
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"TensorBoard did not show it in {timeout} s")
        time.sleep(0.5)


def test_hparams_tab_lists_the_training_runs_with_live_metric_values(tmp_path):
    logs = {}
    for backend in ("tensorboard", "tensorboardx"):
        log = vizlog.Logger(backend, logdir=tmp_path / backend)
        log.hparams({"lr": 0.01, "opt": "adam", "layers": 3}, {"val/acc": None})
        for step, value in enumerate([0.25, 0.5, 0.625]):
            log.scalar("val/acc", value, step)
        log.flush()
        logs[backend] = log

    with servers.serve("tensorboard", logdir=tmp_path, port=0) as server:
        shown = wait_for(lambda: len(sessions(server)) == 2 and sessions(server))
        assert set(shown) == {"tensorboard", "tensorboardx"}  # the runs, no sub-runs
        for session in shown.values():
            assert session["hparams"] == {"lr": 0.01, "opt": "adam", "layers": 3}
            assert session["metrics"] == {"val/acc": 0.625}
        experiment = ask(server, "experiment", {"experimentName": ""})
        assert [m["name"]["tag"] for m in experiment["metricInfos"]] == ["val/acc"]

        for log in logs.values():  # training goes on: the tab follows
            log.scalar("val/acc", 0.875, 3)
            log.flush()
        wait_for(lambda: all(s["metrics"] == {"val/acc": 0.875}
                             for s in sessions(server).values()))

        for log in logs.values():  # calling hparams again updates, adds no run
            log.hparams({"lr": 0.01, "opt": "adam", "layers": 3}, {"val/acc": 0.9375})
            log.close()
        final = wait_for(lambda: all(s["status"] == "STATUS_SUCCESS"
                                     for s in sessions(server).values()) and sessions(server))
        assert set(final) == {"tensorboard", "tensorboardx"}
        assert all(s["metrics"] == {"val/acc": 0.9375} for s in final.values())
    assert sorted(p.name for p in (tmp_path / "tensorboard").iterdir() if p.is_dir()) == []


def test_without_metrics_every_scalar_series_of_the_run_is_a_metric(tmp_path):
    """What accelerate's tracker logs (hparams, no metrics): the tab is not empty."""
    with vizlog.Logger("tensorboard", logdir=tmp_path / "run") as log:
        log.hparams({"lr": 0.1, "warmup": True}, {})
        log.scalar("loss", 2.0, 0)
        log.scalar("loss", 1.5, 1)
        log.scalars("acc", {"train": 0.5, "val": 0.25}, 1)

    with servers.serve("tensorboard", logdir=tmp_path, port=0) as server:
        shown = wait_for(lambda: sessions(server).get("run", {}).get("metrics"))
        # scalars("acc", ...): each key's run is a group of the session, as TensorBoard lists it
        assert shown == {"loss": 1.5, "acc (train)": 0.5, "acc (val)": 0.25}
        assert sessions(server)["run"]["hparams"] == {"lr": 0.1, "warmup": True}


def test_run_name_makes_one_run_per_trial_as_the_writers_do(tmp_path):
    with vizlog.SummaryWriter(str(tmp_path), backend="tensorboard") as writer:
        for trial, lr in enumerate([0.1, 0.01]):
            writer.add_hparams({"lr": lr}, {"accuracy": 0.5 + trial}, name=f"trial{trial}")

    with servers.serve("tensorboard", logdir=tmp_path, port=0) as server:
        shown = wait_for(lambda: len(sessions(server)) == 2 and sessions(server))
        assert {name: (s["hparams"]["lr"], s["metrics"]["accuracy"])
                for name, s in shown.items()} == {"trial0": (0.1, 0.5), "trial1": (0.01, 1.5)}
