"""The package's shape: no import circles, and stages import only the stages below them
(docs/architecture.md). Imports under `if TYPE_CHECKING:` are left out: they never run."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "rag"
# Lowest first. A module may import its own stage and any stage before it, never one after it.
STAGES = ["foundation", "text", "ingest", "claims", "store", "search", "answer", "app", "eval"]
# The command line is also the way into the measurements (`rag eval`, `rag bench`), imported per command.
ENTRY_POINTS = {"rag.app.cli": {"eval"}}
FOUNDATION = {"rag.config", "rag.errors", "rag.types", "rag.faults", "rag.atomic", "rag.testing"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, modules: set[str]) -> Iterator[str]:
    """Every rag module a module imports when it runs, at top level or inside functions. `from rag.x
    import y` counts as importing `rag.x.y` when that is a module, else `rag.x`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (name for child in node.orelse for name in _imports(child, modules))
            continue
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "rag")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "rag":
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    yield sub if sub in modules else node.module
        else:
            yield from _imports(node, modules)


@cache
def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    for name, path in modules.items():
        targets = set(_imports(ast.parse(path.read_text(encoding="utf-8")), set(modules)))
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as the modules along it, or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def stage_of(module: str) -> str:
    if module == "rag" or module in FOUNDATION or module.startswith("rag.testing."):
        return "foundation"
    return module.split(".")[1]


def test_the_import_graph_has_no_cycle() -> None:
    assert _cycle(import_graph()) is None
    assert "rag.app.index" not in import_graph()["rag.app.chat"]  # Chat knows an index by a Protocol


def test_the_cycle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_every_module_is_in_a_stage_folder() -> None:
    assert {stage_of(m) for m in import_graph()} <= set(STAGES)


@pytest.mark.parametrize("module", sorted(m for m in import_graph() if m != "rag"))
def test_stages_import_only_the_stages_below_them(module: str) -> None:
    if stage_of(module) == "foundation" and module.startswith("rag.testing"):
        return  # the fakes stand in for every stage's interface
    mine = STAGES.index(stage_of(module))
    allowed = ENTRY_POINTS.get(module, set())
    above = sorted(
        t
        for t in import_graph()[module]
        if STAGES.index(stage_of(t)) > mine and t != "rag" and stage_of(t) not in allowed
    )
    assert not above, f"{module} ({stage_of(module)}) imports later stages: {above}"
