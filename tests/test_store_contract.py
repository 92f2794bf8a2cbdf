"""Keep the store contract tested: every method of every area protocol must be called on the
``store`` fixture in the backend-parametrised contract tests (``tests/test_store*.py``)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from facelens.store import MetadataStore
from facelens.store.contract import AREAS

TESTS = Path(__file__).resolve().parent
CONTRACT_TESTS = sorted(TESTS.glob("test_store*.py"))


def protocol_methods(protocol: type) -> set[str]:
    """The methods ``protocol`` itself declares (not those it inherits)."""
    return {
        name
        for name, value in vars(protocol).items()
        if inspect.isfunction(value) and not name.startswith("_")
    }


def store_calls(path: Path) -> set[str]:
    """The names called as ``store.NAME(...)`` in the file."""
    return {
        node.func.attr
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "store"
    }


def test_given_the_area_protocols_then_they_make_up_the_whole_contract_without_overlap() -> None:
    by_area = [protocol_methods(area) for area in AREAS]
    combined = {
        name
        for name in dir(MetadataStore)
        if not name.startswith("_") and inspect.isfunction(getattr(MetadataStore, name))
    }
    assert set().union(*by_area) == combined, "a method declared outside the area protocols"
    assert sum(len(methods) for methods in by_area) == len(combined), "a method in two areas"
    assert protocol_methods(MetadataStore) == set()


def test_given_the_contract_tests_then_every_store_method_is_exercised() -> None:
    called = set().union(*(store_calls(path) for path in CONTRACT_TESTS))
    for area in AREAS:
        untested = sorted(protocol_methods(area) - called)
        assert not untested, (
            f"{area.__name__} methods no contract test calls on the `store` fixture: "
            f"{', '.join(untested)}; add a test to tests/test_store*.py"
        )
