"""What ``vizlog info`` reports: installed backends, the environment in effect, where logs go.

Versions come from package metadata, so that nothing heavy (torch) is imported to report.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata

from vizlog import config
from vizlog.backends import KNOWN_BACKENDS


def distribution_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def backend_lines() -> list[str]:
    lines = []
    width = max(len(name) for name in KNOWN_BACKENDS)
    for name, spec in KNOWN_BACKENDS.items():
        if not spec.requires:
            lines.append(f"  {name:<{width}}  built in")
            continue
        versions = {package: distribution_version(package) for package in spec.requires}
        missing = [package for package, version in versions.items() if version is None]
        if missing:
            state = (
                f'not installed (missing {", ".join(missing)}: pip install "vizlog[{spec.extra}]")'
            )
        else:
            state = "installed: " + ", ".join(f"{p} {v}" for p, v in versions.items())
        if name == "visdom" and not missing:
            state += f"; web page assets: {visdom_assets_state()}"
        lines.append(f"  {name:<{width}}  {state}")
    return lines


def visdom_assets_state() -> str:
    from vizlog.servers import visdom_assets

    missing = visdom_assets.missing_assets()
    if not missing:
        return "installed"
    return f"{len(missing)} files missing (run `{visdom_assets.FETCH_COMMAND}`)"


def environment_lines() -> list[str]:
    lines = []
    for name, meaning in config.ENVIRONMENT_VARIABLES.items():
        value = config.env(name)
        if value is None:
            shown = "(not set)"
        elif "PASSWORD" in name:
            shown = "(set, hidden)"
        else:
            shown = repr(value)
        lines.append(f"  {name} = {shown}")
        lines.append(f"      {meaning}")
    return lines


def destination_lines() -> list[str]:
    names = config.backend_names()
    logdir = config.env("VIZLOG_LOGDIR")
    if logdir is None:
        where = os.path.join("runs", "<date>-<time>_<host>") + " (a new directory per Logger)"
    else:
        where = logdir
    if logdir and "://" not in logdir:
        where = os.path.abspath(where)
    lines = [f"  backends:  {names}", f"  logdir:    {where}"]
    if "visdom" in names:
        env = config.visdom_env() or "the logdir's last part"
        lines.append(f"  visdom:    {config.visdom_server()} (environment: {env})")
    return lines


def render() -> str:
    version = distribution_version("vizlog") or "unknown"
    sections = [
        f"vizlog {version} (Python {platform.python_version()})",
        "",
        "Backends:",
        *backend_lines(),
        "",
        "Environment variables:",
        *environment_lines(),
        "",
        "A Logger() created now writes to:",
        *destination_lines(),
    ]
    return "\n".join(sections)
