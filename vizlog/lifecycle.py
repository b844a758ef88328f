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
    def close(self, timeout: float | None = None) -> object: ...
    def forked(self) -> None: ...


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


# ---------------------------------------------------------------------------- SIGTERM
#
# A Python signal handler runs only when the main thread executes bytecode; a main thread
# blocked in C (a collective waiting for a peer, init_process_group) would never run it, and
# SIGTERM would be ignored for as long as the C call lasts.  So the C-level handler also
# writes the signal number to a pipe (``signal.set_wakeup_fd``) that a watcher thread reads:
# whichever of the two notices first closes the loggers (bounded) and then ends the process
# with the default action, as it would have ended without vizlog.

_terminating = threading.Event()
_previous_wakeup_fd = -1
_watching = False  # the wakeup-fd watcher counts the signals; else the Python handler does
_closing_lock = threading.Lock()  # taken once, by whoever starts closing; never released


def _on_sigterm(signum: int, frame: Any) -> None:
    # Both this handler and the watcher see each SIGTERM: only one of them may count it, or
    # one signal would look like two.
    if _watching:
        _start_closing(signum)
    else:
        _terminate(signum)


def _terminate(signum: int) -> None:
    """One SIGTERM arrived: close and end; a second one while closing ends at once."""
    if _terminating.is_set():
        _die(signum)
        return
    _start_closing(signum)


def _start_closing(signum: int) -> None:
    # Never blocks: the caller may be a signal handler that interrupted the lock's holder.
    if not _closing_lock.acquire(blocking=False):
        return
    if _terminating.is_set():
        return
    _terminating.set()
    # Not on the main thread: it may be inside a logging call holding a delivery lock.
    threading.Thread(
        target=_close_then_die, args=(signum,), name="vizlog-sigterm", daemon=True
    ).start()


def _close_then_die(signum: int) -> None:
    try:
        close_all(EXIT_TIMEOUT)
    finally:
        _die(signum)


def _die(signum: int) -> None:
    """End the process by ``signum``'s default action, from any thread (``signal.signal``
    works only on the main thread, which may be stuck in C: reset the C handler directly)."""
    try:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signum, signal.SIG_DFL)
        else:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.signal.restype = ctypes.c_void_p
            libc.signal.argtypes = (ctypes.c_int, ctypes.c_void_p)
            libc.signal(signum, 0)  # SIG_DFL
        os.kill(os.getpid(), signum)
    finally:
        os._exit(128 + signum)  # only if the signal did not end the process


def _watch_wakeup_fd(read_fd: int) -> None:
    seen = 0
    while True:
        try:
            data = os.read(read_fd, 512)
        except InterruptedError:
            continue
        except OSError:
            return
        if not data:
            return
        if _previous_wakeup_fd >= 0:  # somebody else's (asyncio's): pass the bytes on
            try:
                os.write(_previous_wakeup_fd, data)
            except OSError:
                pass
        for byte in data:
            if byte == signal.SIGTERM:
                seen += 1
                if seen == 1:
                    _start_closing(signal.SIGTERM)
                else:  # a second SIGTERM while closing: end now
                    _die(signal.SIGTERM)


def _install_wakeup_fd() -> None:
    global _previous_wakeup_fd, _watching
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    try:
        _previous_wakeup_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    except (ValueError, OSError):
        os.close(read_fd)
        os.close(write_fd)
        return
    _watching = True
    threading.Thread(
        target=_watch_wakeup_fd, args=(read_fd,), name="vizlog-signals", daemon=True
    ).start()


def _install_exit_handlers() -> None:
    """Flush on normal exit (atexit), in a multiprocessing child (its finalizers), and on
    SIGTERM when nobody else handles it."""
    global _handlers_installed
    # Exit functions run last-registered first.  Backends register their own (tensorboardX
    # closes its writer at exit); ours must run before those, while the writers still take
    # the records the delivery threads hold, so it moves to the front at every new Logger.
    atexit.unregister(close_all)
    atexit.register(close_all)
    _register_child_finalizer()
    if _handlers_installed:
        return
    _handlers_installed = True
    if threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                signal.signal(signal.SIGTERM, _on_sigterm)
                _install_wakeup_fd()
        except (ValueError, OSError):
            pass


# ------------------------------------------------------------------ multiprocessing children
#
# A process started by multiprocessing with the fork method ends with os._exit: atexit never
# runs there.  multiprocessing runs its own finalizers first, so a Logger made in such a child
# is closed by one of those.

_finalizer_pid = -1


def _register_child_finalizer() -> None:
    global _finalizer_pid
    if _finalizer_pid == os.getpid():
        return
    import multiprocessing
    import multiprocessing.util

    if multiprocessing.parent_process() is None:
        return
    _finalizer_pid = os.getpid()
    multiprocessing.util.Finalize(None, close_all, exitpriority=100)


def _forget_after_fork() -> None:
    # The child has none of the parent's threads; its copies of the loggers stay silent.
    global _closing_lock
    for logger in _open:
        logger.forked()
    _open.clear()
    _closing_lock = threading.Lock()
    _terminating.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
