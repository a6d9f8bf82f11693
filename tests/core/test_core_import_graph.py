"""The core's parts import each other in one direction only.

A part is a module of ``airflow_gradient/core/`` or one of its packages (``cluster``,
``terraform``) taken whole. Two parts that import each other (``recommendation`` reading the
cluster's path notation while ``cluster`` read the tags from ``recommendation``) mean a
constant lives away from its rule; this test names the cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import airflow_gradient

CORE = Path(airflow_gradient.__file__).parent / "core"
PREFIX = "airflow_gradient.core."


def _part(module: str) -> str | None:
    """``airflow_gradient.core.cluster.merge`` → ``cluster``; outside the core → None."""
    if not module.startswith(PREFIX):
        return None
    return module[len(PREFIX) :].split(".", maxsplit=1)[0]


def _imports() -> dict[str, set[str]]:
    """Part → the other core parts its modules import (at any level, lazily or not)."""
    graph: dict[str, set[str]] = {}
    for path in CORE.rglob("*.py"):
        relative = path.relative_to(CORE).with_suffix("")
        part = relative.parts[0]
        targets = graph.setdefault(part, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                target = _part(name)
                if target is not None and target not in (part, "__init__"):
                    targets.add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle among the parts, or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(part: str) -> list[str] | None:
        state[part] = "open"
        stack.append(part)
        for target in sorted(graph.get(part, ())):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[part] = "done"
        return None

    for part in sorted(graph):
        if part not in state and (found := visit(part)):
            return found
    return None


def test_the_core_parts_form_no_import_cycle() -> None:
    graph = _imports()
    assert {"cluster", "recommendation", "configuration"} <= graph.keys()
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cluster_rules_do_not_read_the_recommendation() -> None:
    """The cluster package owns its constants (tags, sizing forms, clouds, log destinations);
    the recommendation parser reads them from there, never the other way round."""
    graph = _imports()
    assert "recommendation" not in graph["cluster"]
    assert "cluster" in graph["recommendation"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_public_names_of_a_core_module_are_its_own_classes_and_functions() -> None:
    """``__all__`` lists what users call: no constants, no private names, no re-exports (a
    name is imported from the module that defines it; a package's ``__init__`` may gather)."""
    import importlib
    import inspect

    wrong: list[str] = []
    for path in sorted(CORE.rglob("*.py")):
        relative = path.relative_to(CORE).with_suffix("")
        if relative.name == "__init__":
            continue
        name = PREFIX + ".".join(relative.parts)
        module = importlib.import_module(name)
        for public in getattr(module, "__all__", ()):
            value = getattr(module, public)
            if public.startswith("_") or public.isupper():
                wrong.append(f"{name}.{public}: a constant or private name")
            elif (inspect.isclass(value) or inspect.isfunction(value)) and (
                value.__module__ != name
            ):
                wrong.append(f"{name}.{public}: re-exported from {value.__module__}")
    assert wrong == []
