"""A training process that logs scalars and then ends badly; run by the reliability tests.

    python tests/child_logging.py HOW N RUNS_JSON

``RUNS_JSON`` is a list of ``{"backend": ..., "logdir": ..., "options": {...}}``: one
``vizlog.Logger`` each.  The child logs ``N`` scalars (tag ``loss``, value ``i``, step ``i``)
into every one of them, without ever calling ``flush`` or ``close``, prints ``logged`` and
then ends the way ``HOW`` says: ``return`` (falls off the end of the script), ``raise`` (an
uncaught exception), ``wait`` (idles until the parent sends it a signal) or ``busy`` (goes
on logging steps ``N``, ``N + 1``, ... until a signal ends it).
"""

from __future__ import annotations

import json
import sys
import time

import vizlog


def main(argv: list[str]) -> None:
    how, n, runs = argv[0], int(argv[1]), json.loads(argv[2])
    logs = [vizlog.Logger(r["backend"], logdir=r["logdir"], **r.get("options", {})) for r in runs]
    for i in range(n):
        for log in logs:
            log.scalar("loss", float(i), step=i)
    print("logged", flush=True)
    if how == "raise":
        raise RuntimeError("training crashed")
    if how == "wait":
        while True:  # the parent's signal ends this
            time.sleep(0.05)
    step = n
    while how == "busy":  # a signal that lands in the middle of a logging call
        for log in logs:
            log.scalar("loss", float(step), step=step)
        step += 1


if __name__ == "__main__":
    main(sys.argv[1:])
