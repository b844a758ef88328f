"""Run in a fresh interpreter by case 6: log scalars to a Visdom server that is down.

Prints one JSON line: peak memory growth (``VmHWM`` at the end minus ``VmRSS`` before the
first of the scalars), how many records the spool holds after ``close()``, and timings.
"""

from __future__ import annotations

import json
import sys
import time
import warnings


def _status_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise LookupError(field)


def main(count: int, logdir: str, port: int) -> dict[str, float]:
    import vizlog
    from vizlog.backends.visdom.spool import Spool

    warnings.simplefilter("ignore")  # the outage warning is expected
    log = vizlog.Logger("visdom", logdir=logdir, server=f"http://127.0.0.1:{port}",
                        env="bench-outage")
    log.scalar("warm-up", 0.0, 0)
    log.flush()
    before = _status_mb("VmRSS")
    begin = time.perf_counter()
    for step in range(count):
        log.scalar("loss", 0.25, step)
    logged = time.perf_counter()
    log.close()
    closed = time.perf_counter()
    growth = _status_mb("VmHWM") - before
    spool = Spool(logdir)
    spooled = spool.pending - 1  # less the warm-up record
    spool.close()
    return {"growth_mb": growth, "spooled": spooled, "log_s": logged - begin,
            "close_s": closed - logged}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]))))
