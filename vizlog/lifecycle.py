"""The process around the Loggers: which are open, and closing them at exit, on SIGTERM and
in forked children.

An open Logger must live until it is closed (at exit at the latest), or a run that drops its
last reference without ``close()`` would lose what was queued: the set here holds strong
references.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
from typing import Any, Protocol


class Closable(Protocol):
    def close(self, timeout: float | None = None) -> None: ...


#: seconds each background backend gets to finish at exit or SIGTERM
EXIT_TIMEOUT = 60.0

_open: set[Closable] = set()
_open_lock = threading.Lock()
_handlers_installed = False


def register(logger: Closable) -> None:
    """Keep ``logger`` alive and close it at exit; installs the exit handlers once."""
    with _open_lock:
        _open.add(logger)
    _install_exit_handlers()


def unregister(logger: Closable) -> None:
    with _open_lock:
        _open.discard(logger)


def open_loggers() -> list[Closable]:
    with _open_lock:
        return list(_open)


def close_all(timeout: float = EXIT_TIMEOUT) -> None:
    """Close every open Logger (at interpreter exit and on SIGTERM)."""
    for logger in open_loggers():
        try:
            logger.close(timeout)
        except Exception:  # noqa: BLE001 - one logger's failure must not stop the others
            pass


def _on_sigterm(signum: int, frame: Any) -> None:
    # The handler runs on the main thread between two bytecodes, possibly inside a logging
    # call that holds a delivery lock: closing from here could wait on that lock forever.
    # Close from a helper thread instead; a second SIGTERM meanwhile ends the process at once.
    signal.signal(signum, signal.SIG_DFL)
    threading.Thread(
        target=_close_then_die, args=(signum,), name="vizlog-sigterm", daemon=False
    ).start()


def _close_then_die(signum: int) -> None:
    try:
        close_all()
    finally:
        os.kill(os.getpid(), signum)


def _install_exit_handlers() -> None:
    """Flush on normal exit (atexit) and on SIGTERM when nobody else handles it."""
    global _handlers_installed
    # Exit functions run last-registered first.  Backends register their own (tensorboardX
    # closes its writer at exit); ours must run before those, while the writers still take
    # the records the delivery threads hold, so it moves to the front at every new Logger.
    atexit.unregister(close_all)
    atexit.register(close_all)
    if _handlers_installed:
        return
    _handlers_installed = True
    if threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                signal.signal(signal.SIGTERM, _on_sigterm)
        except (ValueError, OSError):
            pass


def _forget_after_fork() -> None:
    # The child has none of the parent's threads; its copies of the loggers stay silent.
    _open.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
