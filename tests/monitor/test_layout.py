"""The monitor's layout (docs/design.md): its folders depend one way, with no import circle.

Read from the source (every ``import``, deferred ones inside functions too), not from
``sys.modules``: an import circle hidden behind a deferred import counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import ROOT

PACKAGE = ROOT / "monitor"
# What each folder of the monitor may import of the monitor (besides itself).
ALLOWED = {
    "tally": set(),
    "follow": {"tally", "figures"},  # the stall watch judges senders as the figures do
    "figures": {"tally"},
    "views": {"figures", "tally"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def monitor_imports(path: Path) -> set[str]:
    """The monitor's modules ``path`` imports (``from monitor.x import y``: ``monitor.x.y``
    when that is a module, else ``monitor.x``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("monitor"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("monitor")}
    return found & MODULES.keys()


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: monitor_imports(path) for name, path in MODULES.items()}


def folder(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else ""  # "": the package's own modules


def test_the_folders_depend_one_way() -> None:
    wrong = []
    for module, imported in GRAPH.items():
        own = folder(module)
        if own not in ALLOWED:
            continue  # monitor.py, cli.py: they put the folders together
        for target in imported:
            other = folder(target)
            if other != own and other not in ALLOWED[own]:
                wrong.append(f"{module} imports {target}")
    assert not wrong


def test_no_import_circle() -> None:
    cycles = []
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert not cycles


def test_the_checks_see_a_circle_when_there_is_one() -> None:
    """The graph holds deferred imports: the one in views/view.py is seen."""
    assert "monitor.views.live" in GRAPH["monitor.views.view"]
    assert "monitor.figures.report" in GRAPH["monitor.views.formatting"]
