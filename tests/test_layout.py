"""The shape of the package: modules a reader can hold in their head, and no import circles.

Import circles are found on the graph grimp (import-linter's graph library) builds from every
``import`` in ``facelens``, at module level and inside functions alike, so a lazy import does
not hide one; imports under ``if TYPE_CHECKING:`` are left out (they never run).
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "facelens"

#: "About 400 lines": a module a reader takes in at one sitting, with 5% slack.
MAX_MODULE_LINES = 420

#: Modules allowed past the limit, each with the reason (kept out of the package otherwise).
LONG_MODULES: dict[str, str] = {}


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """The graph's import circles: its strongly connected components of more than one module
    (Tarjan's algorithm, iterative, so a deep chain cannot overflow the stack)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    circles: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append(
                        (target, iter(sorted(graph.find_modules_directly_imported_by(target))))
                    )
                    break
                if target in on_stack:
                    low[module] = min(low[module], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[module])
                if low[module] == index[module]:
                    circle = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        circle.append(member)
                        if member == module:
                            break
                    if len(circle) > 1:
                        circles.append(sorted(circle))
    return circles


def test_given_the_package_then_every_module_is_a_package_member() -> None:
    # A folder without __init__.py is a namespace package, which grimp (and a reader) misses.
    # Alembic's scripts folder (store/migrations) is run by Alembic, not imported.
    folders = {
        p.parent
        for p in PACKAGE.rglob("*.py")
        if "__pycache__" not in p.parts and "migrations" not in p.parts
    }
    missing = sorted(
        str(f.relative_to(PACKAGE)) for f in folders if not (f / "__init__.py").exists()
    )
    assert missing == []


def test_given_the_package_then_no_module_is_over_the_line_limit() -> None:
    long = {
        str(path.relative_to(PACKAGE.parent)): n
        for path in sorted(PACKAGE.rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert {m: n for m, n in long.items() if m not in LONG_MODULES} == {}
    # An exemption that is no longer needed is removed, so the list stays honest.
    assert sorted(set(LONG_MODULES) - set(long)) == []


def test_given_the_package_then_no_modules_import_each_other_in_a_circle() -> None:
    graph = grimp.build_graph("facelens", exclude_type_checking_imports=True)
    assert strongly_connected(graph) == []


@pytest.mark.parametrize(
    ("edges", "circles"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ],
)
def test_given_a_graph_then_its_circles_are_found(
    edges: dict[str, set[str]], circles: list[list[str]]
) -> None:
    graph = grimp.ImportGraph()
    for module, targets in edges.items():
        graph.add_module(module)
        for target in targets:
            graph.add_import(importer=module, imported=target)
    assert strongly_connected(graph) == circles
