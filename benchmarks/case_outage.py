"""Case 6: memory while the Visdom server is down.

A fresh interpreter logs ``outage_scalars`` scalars to a port where nothing listens; its
peak RSS must grow by less than 50 MB (the spool on disk, not RAM, takes the records) and
the spool must hold every record after ``close()``.  The raw client has nothing to compare:
with its server down it drops every point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from benchmarks.common import Context, Row

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(ctx: Context) -> list[Row]:
    from vizlog import servers

    count = ctx.sizes.outage_scalars
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.outage_child", str(count), ctx.path("outage"),
         str(servers.free_port())],
        cwd=ROOT, check=True, capture_output=True, text=True, timeout=600,
    )
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return [Row(
        case=f"6. Visdom down: peak RSS growth for {count:,} scalars",
        vizlog=data["growth_mb"], raw=float("nan"), unit="MB", ratio=None,
        target="< 50 MB, all in the spool",
        met=data["growth_mb"] < 50 and data["spooled"] == count,
        notes={**data, "raw": "the raw client drops every point while its server is down",
               "log_us_per_call": 1e6 * data["log_s"] / count},
    )]
