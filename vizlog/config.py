"""Every environment variable vizlog reads, read in one place."""

from __future__ import annotations

import os
import socket
from datetime import datetime

from vizlog.errors import VizlogValueError

DEFAULT_BACKEND = "tensorboard"
DEFAULT_VISDOM_SERVER = "http://localhost:8097"
DEFAULT_FLUSH_SECS = 2.0
DEFAULT_SYSTEM_INTERVAL = 10.0
#: system metrics are plotted against whole seconds: a shorter interval would repeat steps
MIN_SYSTEM_INTERVAL = 1.0

#: name -> what it does; ``vizlog info`` prints this table with the values in effect.
ENVIRONMENT_VARIABLES: dict[str, str] = {
    "VIZLOG_BACKEND": f"backend name(s), comma-separated (default {DEFAULT_BACKEND!r})",
    "VIZLOG_LOGDIR": "where runs are written (default runs/<date>-<time>_<host>)",
    "VIZLOG_VISDOM_SERVER": f"Visdom server URL (default {DEFAULT_VISDOM_SERVER})",
    "VIZLOG_VISDOM_ENV": "Visdom environment (default: the run's name, the logdir's last part)",
    "VIZLOG_VISDOM_USERNAME": "Visdom login name, for a server started with login enabled",
    "VIZLOG_VISDOM_PASSWORD": "Visdom login password",
    "VIZLOG_FLUSH_SECS": "seconds after which logged values are on disk at the latest, so that "
    f"a killed run loses no more than that (default {DEFAULT_FLUSH_SECS:g})",
    "VIZLOG_SPOOL_DIR": "local directory for what a remote logdir (s3://, gs://, ...) cannot "
    "send while its store is unreachable, and for the Visdom spool of a remote logdir "
    "(default ~/.cache/vizlog/spool)",
    "VIZLOG_SYSTEM_METRICS": "1 to log CPU, memory and GPU metrics under system/ from a "
    "background thread, as Logger(system_metrics=True) does (default 0)",
    "VIZLOG_SYSTEM_INTERVAL": "seconds between two system metric samples, at least 1 "
    f"(default {DEFAULT_SYSTEM_INTERVAL:g})",
    "VIZLOG_NPM_REGISTRY": "npm registry that `vizlog visdom-assets` fetches Visdom's web "
    "assets from (default https://registry.npmjs.org)",
}


def env(name: str) -> str | None:
    """The variable's value, or None when unset or empty."""
    value = os.environ.get(name)
    return value if value else None


def backend_names() -> str:
    return env("VIZLOG_BACKEND") or DEFAULT_BACKEND


def default_run_name() -> str:
    """``<date>-<time>_<host>``, as the TensorBoard writers name their runs."""
    return datetime.now().strftime("%b%d_%H-%M-%S") + "_" + socket.gethostname()


def logdir() -> str:
    return env("VIZLOG_LOGDIR") or os.path.join("runs", default_run_name())


def _env_seconds(name: str, default: float, minimum: float, inclusive: bool,
                 expected: str) -> float:
    """A number of seconds from ``name``: finite, above ``minimum`` (or equal to it when
    ``inclusive``); anything else is a ``VizlogValueError`` saying what was ``expected``."""
    value = env(name)
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    low_ok = seconds >= minimum if inclusive else seconds > minimum
    if not (low_ok and seconds < float("inf")):
        raise VizlogValueError(f"{name}: expected {expected}, got {value!r}")
    return seconds


def flush_secs() -> float:
    """How often the TensorBoard writers flush: the most a SIGKILL can lose, in seconds."""
    return _env_seconds("VIZLOG_FLUSH_SECS", DEFAULT_FLUSH_SECS, 0.0, False,
                        "a positive number of seconds")


def spool_dir() -> str:
    """Local home of what a remote logdir cannot send yet (the store's outage spool)."""
    default = os.path.join(env("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "vizlog", "spool")
    return os.path.expanduser(env("VIZLOG_SPOOL_DIR") or default)


def system_metrics() -> bool:
    """Whether Loggers made without ``system_metrics=`` sample system metrics."""
    value = env("VIZLOG_SYSTEM_METRICS")
    if value is None:
        return False
    word = value.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise VizlogValueError(f"VIZLOG_SYSTEM_METRICS: expected 1 or 0, got {value!r}")


def system_interval() -> float:
    """Seconds between two system metric samples (``VIZLOG_SYSTEM_INTERVAL``)."""
    return _env_seconds("VIZLOG_SYSTEM_INTERVAL", DEFAULT_SYSTEM_INTERVAL, MIN_SYSTEM_INTERVAL,
                        True, f"a number of seconds >= {MIN_SYSTEM_INTERVAL:g}")


def visdom_server() -> str:
    return env("VIZLOG_VISDOM_SERVER") or DEFAULT_VISDOM_SERVER


def visdom_env() -> str | None:
    """The configured environment, or None to use the run's name."""
    return env("VIZLOG_VISDOM_ENV")


def visdom_credentials() -> tuple[str | None, str | None]:
    return env("VIZLOG_VISDOM_USERNAME"), env("VIZLOG_VISDOM_PASSWORD")


def npm_registry() -> str:
    return (env("VIZLOG_NPM_REGISTRY") or "https://registry.npmjs.org").rstrip("/")
