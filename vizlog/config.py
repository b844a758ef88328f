"""Every environment variable vizlog reads, read in one place."""

from __future__ import annotations

import os
import socket
from datetime import datetime

DEFAULT_BACKEND = "tensorboard"
DEFAULT_VISDOM_SERVER = "http://localhost:8097"

#: name -> what it does; ``vizlog info`` prints this table with the values in effect.
ENVIRONMENT_VARIABLES: dict[str, str] = {
    "VIZLOG_BACKEND": f"backend name(s), comma-separated (default {DEFAULT_BACKEND!r})",
    "VIZLOG_LOGDIR": "where runs are written (default runs/<date>-<time>_<host>)",
    "VIZLOG_VISDOM_SERVER": f"Visdom server URL (default {DEFAULT_VISDOM_SERVER})",
    "VIZLOG_VISDOM_ENV": "Visdom environment (default: the run's name, the logdir's last part)",
    "VIZLOG_VISDOM_USERNAME": "Visdom login name, for a server started with login enabled",
    "VIZLOG_VISDOM_PASSWORD": "Visdom login password",
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


def distributed_rank() -> int:
    """This process's global rank: torch.distributed when initialised, else ``RANK``."""
    import sys

    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return int(dist.get_rank())
    for name in ("RANK", "SLURM_PROCID"):
        value = env(name)
        if value is not None and value.strip().lstrip("-").isdigit():
            return int(value)
    return 0


def visdom_server() -> str:
    return env("VIZLOG_VISDOM_SERVER") or DEFAULT_VISDOM_SERVER


def visdom_env() -> str | None:
    """The configured environment, or None to use the run's name."""
    return env("VIZLOG_VISDOM_ENV")


def visdom_credentials() -> tuple[str | None, str | None]:
    return env("VIZLOG_VISDOM_USERNAME"), env("VIZLOG_VISDOM_PASSWORD")
