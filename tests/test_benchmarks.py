"""``make bench`` keeps working: every case runs end to end with tiny sizes.

No timing is asserted here (timings belong to ``make bench``); what is checked is that each
case produced its rows, that the vizlog side did the work it claims (points arrived, bins
equal to the writers', the spool holds every record) and that the JSON says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytest.importorskip("visdom")
pytest.importorskip("tensorboardX")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench") / "latest.json"
    markdown = out.with_suffix(".md")
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "run.py"), "--quick",
         "--json", str(out), "--markdown", str(markdown)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(out.read_text()), done.stdout + markdown.read_text()


def _rows(results: dict, prefix: str) -> list[dict]:
    rows = [row for row in results["rows"] if row["case"].startswith(prefix)]
    assert rows, f"no row for case {prefix!r}"
    return rows


def test_every_case_ran_and_has_a_verdict(quick_run):
    results, _ = quick_run
    assert results["quick"] is True and results["errors"] == {}
    for prefix in ("1. ", "2. ", "3. ", "4. ", "5. ", "6. ", "7. ", "8. ", "9. ", "cuda. "):
        for row in _rows(results, prefix):
            assert row["status"] in ("met", "NOT MET", "info")
    backends = {row["case"].rsplit("(", 1)[-1].rstrip(")") for row in _rows(results, "1. ")}
    assert backends == {"tensorboard", "tensorboardx", "visdom"}
    assert len(_rows(results, "2. ")) == 3


def test_measured_values_are_real_numbers(quick_run):
    results, _ = quick_run
    for prefix in ("1. ", "2. ", "4. "):
        for row in _rows(results, prefix):
            assert row["vizlog"] > 0 and row["raw"] > 0
            if prefix != "2. ":  # the loop's ratio is against no logging at all
                assert row["ratio"] == pytest.approx(row["vizlog"] / row["raw"], rel=1e-6)
    for row in _rows(results, "2. "):  # the median of paired ratios, inside its interval
        notes = row["notes"]
        assert row["ratio"] == pytest.approx(1 + notes["vizlog_overhead_pct"] / 100, rel=1e-9)
        low, high = notes["vizlog_overhead_pct_95ci"]
        assert low <= notes["vizlog_overhead_pct"] <= high
        assert notes["in_calls_us_per_step"] > 0 and notes["background_cpu_us_per_step"] > 0
    for row in _rows(results, "10. "):  # the codec: sizes do not depend on the machine
        assert 0 < row["vizlog"] * 3 <= row["raw"]


def test_histogram_bins_equal_the_writers(quick_run):
    results, _ = quick_run
    row = _rows(results, "3. histogram of")[0]
    assert row["notes"]["same_bins_as"] == {"torch": True, "tensorboardx": True}


def test_every_visdom_point_arrived(quick_run):
    results, _ = quick_run
    for row in _rows(results, "4. "):
        notes = row["notes"]
        assert notes["all_arrived"] is True
        assert notes["points_arrived"]["vizlog"][0] == notes["points_sent"]["vizlog"] > 0


def test_whole_model_case_logs_every_parameter_and_gradient(quick_run):
    results, _ = quick_run
    row = _rows(results, "7. whole model")[0]
    assert row["notes"]["tensors_per_step"] == 32  # 8 layers x (weight, bias) x (value, grad)
    assert row["vizlog"] > 0 and row["raw"] > 0


def test_import_brings_in_no_backend(quick_run):
    results, _ = quick_run
    row = _rows(results, "5. start-up: python -c")[0]
    assert row["notes"]["backends_imported"] == []


def test_outage_spool_holds_every_scalar(quick_run):
    results, _ = quick_run
    row = _rows(results, "6. ")[0]
    assert row["notes"]["spooled"] == 2000  # QUICK.outage_scalars
    assert row["notes"]["growth_mb"] < 50


def test_s3_upload_sends_what_it_stores_once(quick_run):
    results, _ = quick_run
    rows = _rows(results, "8. S3 run of")
    assert len(rows) == 2  # QUICK.remote_intervals
    for row in rows:
        ours, torch = row["notes"]["vizlog"], row["notes"]["torch"]
        assert ours["bytes_sent"] == ours["bytes_stored"] > 0
        assert torch["bytes_sent"] > torch["bytes_stored"]  # the writer re-sends its file
    (growth,) = _rows(results, "8. S3 bytes sent per interval")
    assert growth["vizlog"] < 1.2 < growth["raw"]
    (calls,) = _rows(results, "8. S3 logging call")
    assert calls["notes"]["down_median_ns"] > 0 and calls["notes"]["up_median_ns"] > 0


def test_system_sampler_sampled_during_the_measured_blocks(quick_run):
    results, _ = quick_run
    row = _rows(results, "9. ")[0]
    assert row["vizlog"] > 0 and row["raw"] > 0
    assert row["ratio"] == pytest.approx(row["vizlog"] / row["raw"], rel=1e-6)
    counts = row["notes"]["samples_per_on_block"]
    assert len(counts) == 2 and all(c >= 1 for c in counts)  # QUICK: 2 blocks of 1.2 s


def test_table_is_printed_and_written(quick_run):
    _, text = quick_run
    assert "| case | vizlog | raw | ratio | target | status |" in text
    assert "targets met" in text
