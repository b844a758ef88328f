"""``vizlog replay``: deliver the spools that runs left behind while their server was down."""

from __future__ import annotations

import os
import warnings
from typing import Any

from vizlog.backends.visdom.backend import VisdomBackend
from vizlog.backends.visdom.sender import VisdomUnavailableWarning
from vizlog.backends.visdom.spool import Spool, SpoolBusy
from vizlog.backends.visdom.spoolfiles import spool_names


def replay(
    logdir: str | os.PathLike[str],
    server: str | None = None,
    env: str | None = None,
    **visdom_options: Any,
) -> int:
    """Deliver the records every run left in its Visdom spool under ``logdir``, each to the
    server and environment it was meant for; returns how many were delivered.

    ``server``/``env`` replace the recorded destination (the server moved); unrecorded ones
    default to ``VIZLOG_VISDOM_SERVER`` / ``VIZLOG_VISDOM_ENV`` and the run's name.  The
    ledger saved with each spool says what the server already has: nothing is sent twice,
    and points it received but lost in a restart (not saved yet when the run ended) are sent
    again.  A spool in use by a live process is skipped, with a warning; unreadable lines
    are passed over and reported.  Raises ``ConnectionError`` when a server cannot be
    reached or stops answering; what was not delivered stays for the next try.
    """
    logdir = os.fspath(logdir)
    if not os.path.isdir(logdir):
        raise ValueError(f"replay(logdir=...): {logdir!r} is not a directory")
    delivered = 0
    failures = []
    for name in spool_names(logdir):
        try:
            spool = Spool(logdir, name, lock=True)
        except SpoolBusy:
            _warn(f"skipped {os.path.join(logdir, name)}.jsonl: a running process owns it")
            continue
        try:
            delivered += _replay_one(spool, server, env, visdom_options)
        except ConnectionError as exc:
            failures.append(str(exc))
        finally:
            spool.close()
    if failures:
        raise ConnectionError("; ".join(failures))
    return delivered


def _replay_one(
    spool: Spool, server: str | None, env: str | None, options: dict[str, Any]
) -> int:
    if spool.torn_bytes:
        _warn(f"cut a half-written last line ({spool.torn_bytes} bytes) from {spool.path}")
    if not spool.pending and not spool.ledger.unsaved_points:
        return 0
    meta = spool.meta
    backend = VisdomBackend(
        spool.logdir,
        server=server if server is not None else meta.get("server"),
        env=env if env is not None else meta.get("env"),
        spool=spool,
        **options,
    )
    recorded = (meta.get("server"), meta.get("env"))
    if recorded != (None, None) and recorded != (backend.server, backend.env):
        spool.reset_ledger()  # what another server confirmed says nothing about this one
    spool.set_meta(server=backend.server, env=backend.env)
    try:
        return backend.replay_spool()
    finally:
        backend.close(quiet=True)
        if spool.skipped:
            _warn(f"passed over {spool.skipped} unreadable line(s) in {spool.path}")


def _warn(message: str) -> None:
    warnings.warn(f"vizlog replay: {message}", VisdomUnavailableWarning, stacklevel=3)


__all__ = ["replay"]
