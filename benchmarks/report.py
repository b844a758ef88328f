"""The table: printed, written as JSON, and as Markdown for the README."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict
from typing import Any

from benchmarks.common import Row, fmt

HEADER = ("case", "vizlog", "raw", "ratio", "target", "status")


def cells(row: Row) -> tuple[str, ...]:
    vizlog, raw = row.shown or (fmt(row.vizlog, row.unit), fmt(row.raw, row.unit))
    ratio = "-" if row.ratio is None else f"{row.ratio:.3g}"
    return (row.case, vizlog, raw, ratio, row.target, row.status)


def text_table(rows: list[Row]) -> str:
    table = [HEADER] + [cells(row) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
             for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: list[Row]) -> str:
    def line(values: tuple[str, ...]) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    out = [line(HEADER), "|" + "---|" * len(HEADER)]
    out += [line(cells(row)) for row in rows]
    return "\n".join(out)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for entry in f:
                if entry.startswith("model name"):
                    return entry.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(module: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    """What the numbers came from."""
    info: dict[str, Any] = {
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
    }
    for package in ("torch", "tensorboard", "tensorboardX", "visdom", "numpy", "numba",
                    "vizlog"):
        info[package] = _version(package)
    try:
        import torch

        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    except ImportError:
        info["cuda"] = "none"
    return info


def machine_line(info: dict[str, Any]) -> str:
    return (f"{info['cpus']} CPUs ({info['cpu_model']}), GPU: {info['cuda']}; Python "
            f"{info['python']}, torch {info['torch']}, tensorboard {info['tensorboard']}, "
            f"tensorboardX {info['tensorboardX']}, visdom {info['visdom']}, numpy {info['numpy']}, "
            f"numba {info.get('numba', 'not recorded')}")


def write_json(path: str, rows: list[Row], info: dict[str, Any], extra: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    payload = {"machine": info, **extra,
               "rows": [dict(asdict(row), status=row.status) for row in rows]}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2, default=str)
        f.write("\n")


def write_markdown(path: str, rows: list[Row], info: dict[str, Any], command: str,
                   when: str) -> None:
    met = sum(row.met is True for row in rows)
    targets = sum(row.met is not None for row in rows)
    text = (
        f"# Benchmark results\n\n"
        f"`{command}`, {when}, on {machine_line(info)}.\n\n"
        f"{met} of {targets} targets met.\n\n"
        f"{markdown_table(rows)}\n"
    )
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
