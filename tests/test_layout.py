"""The layout's rules, checked: small modules, no import cycles, nothing heavy at import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "vizlog"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def test_no_module_over_400_lines() -> None:
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text("utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def _top_level_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """vizlog modules imported at module level (imports inside functions are lazy)."""
    found = set()
    for node in ast.parse(path.read_text("utf-8")).body:
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` blocks do not run
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        found |= {n for n in names if n in modules}
    return found


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = {name: _top_level_imports(path, modules) for name, path in modules.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(name: str, stack: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if target.startswith(name + "."):
                continue  # a package importing its own submodule is not a cycle
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target):] + [target] if target in stack
                              else [name, target])
            elif target not in state:
                visit(target, stack + [target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    cycles = [c for c in cycles if not any(a.startswith(b + ".") or b.startswith(a + ".")
                                           for a, b in zip(c, c[1:], strict=False))]
    assert cycles == []


def test_import_vizlog_imports_no_backend() -> None:
    code = ("import sys, vizlog; import vizlog.logger, vizlog.summary_writer; "
            "print(sorted(m for m in ('torch', 'tensorboard', 'tensorboardX', 'visdom') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
