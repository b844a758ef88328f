"""``vizlog replay``: deliver a spool left behind by a run that ended while its server was down."""

from __future__ import annotations

import os
from typing import Any

from vizlog.backends.visdom.backend import VisdomBackend
from vizlog.backends.visdom.spool import Spool


def replay(
    logdir: str | os.PathLike[str],
    server: str | None = None,
    env: str | None = None,
    **visdom_options: Any,
) -> int:
    """Deliver the records a run left in its Visdom spool; returns how many were delivered.

    The server and environment default to those the run used (kept in the spool), then to
    ``VIZLOG_VISDOM_SERVER`` / ``VIZLOG_VISDOM_ENV`` and the run's name.  Points already on
    the server are not sent twice.  Raises ``ConnectionError`` when the server cannot be
    reached or stops answering; what was not delivered stays in the spool for the next try.
    """
    logdir = os.fspath(logdir)
    if not os.path.isdir(logdir):
        raise ValueError(f"replay(logdir=...): {logdir!r} is not a directory")
    spool = Spool(logdir)
    meta, pending = spool.meta, spool.pending
    spool.close()
    if not pending:
        return 0
    backend = VisdomBackend(
        logdir,
        server=server if server is not None else meta.get("server"),
        env=env if env is not None else meta.get("env"),
        **visdom_options,
    )
    try:
        return backend.replay_spool()
    finally:
        backend.close(quiet=True)


__all__ = ["replay"]
