"""Case 7: a run on S3.  Bytes sent and requests made against the run's length, vizlog and
torch's ``SummaryWriter`` side by side on the same store (moto's S3 server on 127.0.0.1, which
records every request it gets).

Both writers log the same scalars and flush once per interval, as each does every
``flush_secs``.  vizlog sends each interval as a new object; torch's writer (through
TensorBoard's file layer) uploads the whole file again at every flush, so what it sends grows
with the square of the run's length.  Then the cost of a logging call while the store answers
and after it was killed (uploads run on their own thread: it should not change).
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from benchmarks.common import Context, Row, quiet


def _run(kind: str, url: str, intervals: int, scalars: int) -> None:
    if kind == "vizlog":
        import vizlog

        log = vizlog.Logger("tensorboard", url, flush_secs=3600)
        for i in range(intervals):
            for j in range(scalars):
                log.scalar(f"s{j}", float(i), i)
            log.flush()
        log.close()
        return
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(url, flush_secs=3600)
    for i in range(intervals):
        for j in range(scalars):
            writer.add_scalar(f"s{j}", float(i), i)
        writer.flush()
    writer.close()


def _measure(server: Any, fs: Any, kind: str, bucket: str, intervals: int, scalars: int
             ) -> dict[str, int]:
    prefix = f"{bucket}/{kind}-{intervals}"
    server.reset_recording()
    with quiet():
        _run(kind, f"s3://{prefix}", intervals, scalars)
    requests = server.requests()
    fs.invalidate_cache()
    return {
        "requests": len(requests),
        "puts": sum(r["method"] == "PUT" for r in requests),
        "bytes_sent": sum(int(r["headers"].get("Content-Length") or 0) for r in requests),
        "bytes_stored": sum(fs.size(p) for p in fs.find(prefix)),
        "objects": len(fs.find(prefix)),
    }


def _call_costs(server: Any, bucket: str, calls: int) -> dict[str, float]:
    """Median and 99th percentile of one ``log.scalar`` call, store up, then store killed."""
    import vizlog
    from vizlog.backends.tensorboard import uploader

    def costs(log: Any) -> tuple[float, float]:
        samples = []
        for i in range(calls):
            begin = time.perf_counter_ns()
            log.scalar("loss", float(i), i)
            samples.append(time.perf_counter_ns() - begin)
        samples.sort()
        return statistics.median(samples), samples[int(len(samples) * 0.99)]

    saved = uploader.CLOSE_STALL_SECONDS
    uploader.CLOSE_STALL_SECONDS = 0.5  # the store is gone: what is left goes to the spool
    try:
        with quiet():
            log = vizlog.Logger("tensorboard", f"s3://{bucket}/calls")
            up = costs(log)
            server.kill()
            down = costs(log)
            log.close()
    finally:
        uploader.CLOSE_STALL_SECONDS = saved
    return {"up_median_ns": up[0], "up_p99_ns": up[1], "down_median_ns": down[0],
            "down_p99_ns": down[1]}


def run(ctx: Context) -> list[Row]:
    from tests.s3server import S3Server, s3fs
    from vizlog import logdirs

    sizes, scalars = ctx.sizes.remote_intervals, ctx.sizes.remote_scalars
    recording = os.path.join(ctx.path("s3"), "requests.jsonl")
    saved = dict(os.environ)
    with S3Server(recording=recording) as server:
        try:
            os.environ["VIZLOG_SPOOL_DIR"] = ctx.path("spool")
            os.environ.update(server.env())
            os.environ.update(logdirs.tensorboard_env("s3://bucket"))
            fs = s3fs(server)
            bucket = f"bench{int(time.time())}"
            fs.mkdir(bucket)
            results = {n: {kind: _measure(server, fs, kind, bucket, n, scalars)
                           for kind in ("vizlog", "torch")} for n in sizes}
            calls = _call_costs(server, bucket, ctx.sizes.remote_calls)
        finally:
            os.environ.clear()
            os.environ.update(saved)
    rows = []
    for n, result in results.items():
        ours, torch = result["vizlog"], result["torch"]
        rows.append(Row(
            case=f"8. S3 run of {n} flush intervals x {scalars} scalars: KB sent",
            vizlog=ours["bytes_sent"] / 1e3, raw=torch["bytes_sent"] / 1e3, unit="KB",
            ratio=ours["bytes_sent"] / torch["bytes_sent"],
            target="vizlog sends what it stores, once",
            met=ours["bytes_sent"] <= 1.02 * ours["bytes_stored"] + 2048,
            notes={"vizlog": ours, "torch": torch},
            shown=(f"{ours['bytes_sent'] / 1e3:,.1f} KB in {ours['requests']} requests",
                   f"{torch['bytes_sent'] / 1e3:,.1f} KB in {torch['requests']} requests"),
        ))
    first, last = sizes[0], sizes[-1]

    def growth(kind: str) -> float:
        return (results[last][kind]["bytes_sent"] / results[first][kind]["bytes_sent"]) / (
            last / first)

    rows.append(Row(
        case=f"8. S3 bytes sent per interval, run of {last} vs {first} intervals",
        vizlog=growth("vizlog"), raw=growth("torch"), unit="x", ratio=None,
        target="vizlog linear (about 1x)", met=growth("vizlog") < 1.2,
        notes={"meaning": "1x: each interval costs the same however long the run; torch's "
               "writer re-sends the whole file at every flush"},
    ))
    down, up = calls["down_median_ns"], calls["up_median_ns"]
    rows.append(Row(
        case="8. S3 logging call, store killed vs store up (median)",
        vizlog=down, raw=up, unit="ns/call", ratio=down / up,
        target="ratio <= 1.5 (uploads never on the training thread)", met=down / up <= 1.5,
        notes={**calls, "calls": ctx.sizes.remote_calls,
               "raw": "the same vizlog Logger while the store answered"},
    ))
    return rows
