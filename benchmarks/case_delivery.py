"""Case 4: sustained delivery to Visdom, points per second that actually arrive.

Both clients write the same five scalar series, each into its own environment: once into
windows that already hold ``delivery_prefill`` points each (a run in progress, resumed: the
server's cost of every update grows with the window), and once into no window at all (a
fresh run: the windows are created by the first call; vizlog then sends them whole).  The
raw client makes one ``Visdom.line(update="append")`` call per point; vizlog logs its points
as fast as the training thread can and ``flush()`` returns when the server has them.  Points
are counted by reading the windows back (``get_window_data``); the rate is points arrived
over the time from the first call until they were all there.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from benchmarks.common import Context, Row, alternate, median, quiet

TAGS = ("loss", "accuracy", "lr", "grad_norm", "throughput")


def _points(client: Any, env: str, win: str) -> int:
    data = json.loads(client.get_window_data(win=win, env=env))
    return len(data["content"]["data"][0]["x"])


def _prefill(client: Any, env: str, win: str, name: str, count: int) -> None:
    """One request that leaves ``count`` points in the window, the same for both clients
    (the trace named as vizlog names it, so that vizlog appends to it)."""
    xs = np.arange(-count, 0)
    client.line(X=xs, Y=np.zeros(count), win=win, env=env, opts={"title": name,
                                                                   "legend": [name]})


def run(ctx: Context) -> list[Row]:
    # a run in progress, and a fresh run (no window yet: the raw client's first append creates
    # it), where the server's per-update cost is smallest and raw does best
    return [_row(ctx, ctx.sizes.delivery_prefill), _row(ctx, 0)]


def _row(ctx: Context, prefill: int) -> Row:
    import vizlog

    sizes = ctx.sizes
    client = ctx.visdom_client("bench-delivery")
    arrived: dict[str, list[int]] = {"vizlog": [], "raw": []}

    def raw_rate(r: int) -> float:
        env = f"bench-delivery-raw-{prefill}-{r}"
        for tag in TAGS if prefill else ():
            _prefill(client, env, tag, tag, prefill)
        begin = time.perf_counter()
        for step in range(sizes.delivery_raw_rounds):
            for tag in TAGS:
                client.line(X=np.array([step]), Y=np.array([0.5]), win=tag, env=env,
                            update="append")
        elapsed = time.perf_counter() - begin
        count = sum(_points(client, env, tag) - prefill for tag in TAGS)
        arrived["raw"].append(count)
        return count / elapsed

    def vizlog_rate(r: int) -> float:
        env = f"bench-delivery-vizlog-{prefill}-{r}"
        for tag in TAGS if prefill else ():
            _prefill(client, env, f"scalar:{tag}", tag, prefill)
        log = vizlog.Logger("visdom", logdir=ctx.path("delivery-vizlog"), server=ctx.visdom.url,
                            env=env)
        begin = time.perf_counter()
        for step in range(sizes.delivery_vizlog_rounds):
            for tag in TAGS:
                log.scalar(tag, 0.5, step)
        log.flush()
        elapsed = time.perf_counter() - begin
        log.close()
        count = sum(_points(client, env, f"scalar:{tag}") - prefill for tag in TAGS)
        arrived["vizlog"].append(count)
        return count / elapsed

    with quiet():
        samples = alternate({"vizlog": vizlog_rate, "raw": raw_rate}, max(1, sizes.repeats // 3))
    v, w = median(samples["vizlog"]), median(samples["raw"])
    expected = {"vizlog": sizes.delivery_vizlog_rounds * len(TAGS),
                "raw": sizes.delivery_raw_rounds * len(TAGS)}
    complete = all(n == expected[k] for k, ns in arrived.items() for n in ns)
    where = "fresh windows" if not prefill else f"windows of {prefill:,} points"
    return Row(
        case=f"4. Visdom delivery, {len(TAGS)} series, {where}",
        vizlog=v, raw=w, unit="pts/s", ratio=v / w,
        target="ratio >= 50, every point arrives", met=v >= 50 * w and complete,
        notes={"points_arrived": arrived, "points_sent": expected, "all_arrived": complete,
               "points_before": prefill},
    )
