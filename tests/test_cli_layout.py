"""The CLI's modules are layered: the commands import the shared modules (exit_codes,
options, render), main imports the commands, never the other way round. (Their size is
checked with every module's, in tests/test_layout.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CLI = Path(__file__).resolve().parents[1] / "facelens" / "cli"
MODULES = sorted(CLI.rglob("*.py"))
#: What each layer may import from facelens.cli (anywhere in a module, functions included).
LAYERS = {
    "facelens.cli.render": set(),
    "facelens.cli.exit_codes": {"facelens.cli.render"},
    "facelens.cli.options": {"facelens.cli.exit_codes", "facelens.cli.render"},
    "facelens.cli.batch_output": {"facelens.cli.render"},
    # The summaries too long for render.py, each beside it.
    "facelens.cli.render_persons": {"facelens.cli.render"},
    "facelens.cli.render_fairness": set(),
    "facelens.cli.render_eval": {"facelens.cli.render", "facelens.cli.render_fairness"},
}
SHARED = set(LAYERS)


def module_name(path: Path) -> str:
    parts = path.relative_to(CLI.parents[1]).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def cli_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            # ``from facelens.cli import x`` imports the module x; otherwise the module named
            packages = ("facelens.cli", "facelens.cli.commands")
            names = (
                [f"{node.module}.{a.name}" for a in node.names]
                if node.module in packages
                else [node.module]
            )
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n.startswith("facelens.cli")}
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_cli_modules_import_only_downwards(path: Path) -> None:
    name = module_name(path)
    imported = cli_imports(path)
    if name in LAYERS:
        allowed = LAYERS[name]
    elif name.startswith("facelens.cli.commands."):
        allowed = SHARED
    else:  # main and the packages: anything but main
        return
    assert "facelens.cli.main" not in imported
    stray = {m for m in imported if m not in allowed}
    assert not stray, f"{name} imports {stray}"
