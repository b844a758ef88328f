"""Case 5: start-up.  ``import vizlog`` and ``vizlog --help`` in a fresh interpreter, against
importing the raw writer and the raw tools' ``--help``; importing vizlog must not import any
backend library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from benchmarks.common import Context, Row, alternate, median

BACKEND_MODULES = ("torch", "tensorboard", "tensorboardX", "visdom")


def _wall(argv: list[str]) -> float:
    begin = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - begin


def _script(name: str) -> str:
    return os.path.join(os.path.dirname(sys.executable), name)


def imported_backends() -> list[str]:
    """Which backend libraries a fresh ``import vizlog`` brings in (should be none)."""
    code = ("import sys, json, vizlog\n"
            f"print(json.dumps([m for m in {BACKEND_MODULES!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True)
    return list(json.loads(out.stdout))


def run(ctx: Context) -> list[Row]:
    repeats = ctx.sizes.startup_repeats
    py = sys.executable
    commands = {
        "python": [py, "-c", "pass"],
        "import vizlog": [py, "-c", "import vizlog"],
        "import raw writer": [py, "-c", "from torch.utils.tensorboard import SummaryWriter"],
        "vizlog --help": [_script("vizlog"), "--help"],
        "tensorboard --help": [_script("tensorboard"), "--help"],
    }
    for argv in commands.values():  # warm the file cache once
        _wall(argv)
    samples = alternate({name: (lambda r, argv=argv: _wall(argv))
                         for name, argv in commands.items()}, repeats)
    t = {name: median(values) for name, values in samples.items()}
    backends = imported_backends()
    return [
        Row(
            case="5. start-up: python -c 'import vizlog'",
            vizlog=t["import vizlog"], raw=t["import raw writer"], unit="s",
            ratio=t["import vizlog"] / t["import raw writer"],
            target="< 0.2 s, no backend imported",
            met=t["import vizlog"] < 0.2 and not backends,
            notes={"bare_interpreter_s": t["python"], "backends_imported": backends,
                   "raw": "python -c 'from torch.utils.tensorboard import SummaryWriter'"},
        ),
        Row(
            case="5. start-up: vizlog --help",
            vizlog=t["vizlog --help"], raw=t["tensorboard --help"], unit="s",
            ratio=t["vizlog --help"] / t["tensorboard --help"],
            target="(no target; raw is tensorboard --help)", met=None,
            notes={"bare_interpreter_s": t["python"]},
        ),
    ]
