"""The stage order of the package (README, "How it works"): imports only go down the road.

Every module's imports are read from its source (those inside functions and under
``TYPE_CHECKING`` too: a cycle hidden in a function is still a cycle), and each import must point
at a module of the same or an earlier stage, and the module graph must have no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "stress"

STAGES = [
    ("errors", "version", "threads"),
    ("config",),
    ("venues",),
    ("history",),
    ("portfolios",),
    ("paths",),
    ("margin",),
    ("analysis",),
    ("pipeline",),
    ("output",),
    ("cli", "__main__"),
]
"""Stages in road order; a module of stage i imports only from stages 0..i."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def stage_of(module: str) -> int | None:
    """The stage of ``stress.<top>...``; None for the package's own ``__init__`` (the public
    API, which re-exports from every stage and is imported by none)."""
    parts = module.split(".")
    if len(parts) == 1:
        return None
    for i, names in enumerate(STAGES):
        if parts[1] in names:
            return i
    raise AssertionError(f"{module}: not in any stage of STAGES; add its package there")


def imports_of(module: str) -> set[str]:
    """The stress modules ``module`` imports (a ``from package import submodule`` counts as the
    submodule, a ``from package import name`` as the package)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "stress"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "stress":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else target)
    found.discard(module)
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


def test_every_import_names_a_module_that_exists():
    missing = sorted(f"{m} -> {t}" for m, ts in GRAPH.items() for t in ts if t not in MODULES)
    assert not missing, missing


@pytest.mark.parametrize("module", sorted(m for m in MODULES if stage_of(m) is not None))
def test_imports_go_down_the_stage_order(module):
    here = stage_of(module)
    up = sorted(
        t for t in GRAPH[module] if t in MODULES and (stage_of(t) is None or stage_of(t) > here)
    )
    assert not up, f"{module} (stage {STAGES[here][0]}) imports later stages: {up}"


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_there_is_no_import_cycle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_a_later_stage_is_caught():
    assert stage_of("stress.pipeline.simulate") > stage_of("stress.margin.engine")
    assert stage_of("stress.history.fitting.mle") == stage_of("stress.history")
    with pytest.raises(AssertionError, match="not in any stage"):
        stage_of("stress.nowhere")
