"""Launching the viewers: process supervision (``process``), Visdom's application without its
CDN download (``visdom_app``), and Visdom's web assets from the npm registry
(``visdom_assets``)."""

from vizlog.servers.process import (
    DEFAULT_HOST,
    DEFAULT_PORTS,
    DEFAULT_START_TIMEOUT,
    DEFAULT_STOP_TIMEOUT,
    SERVER_KINDS,
    PortInUseError,
    Server,
    ServerError,
    command,
    free_port,
    port_in_use,
    serve,
)

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORTS",
    "DEFAULT_START_TIMEOUT",
    "DEFAULT_STOP_TIMEOUT",
    "SERVER_KINDS",
    "PortInUseError",
    "Server",
    "ServerError",
    "command",
    "free_port",
    "port_in_use",
    "serve",
]
