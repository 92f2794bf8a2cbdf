"""The command tree (every command path, its help and each option's help line) is the CLI's
contract: it must not change by accident, e.g. while moving commands between modules.

After a deliberate change, regenerate the snapshot: ``python -m tests.test_cli_tree``.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from facelens.cli.main import app

SNAPSHOT = Path(__file__).parent / "data" / "cli_tree.json"


def _plain(value: Any) -> Any:
    """A default as JSON (paths and enums by their text, so the snapshot is portable)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _params(command: Any, ctx: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": p.name,
            "kind": p.param_type_name,
            "opts": p.opts,
            "secondary_opts": p.secondary_opts,
            "required": p.required,
            "multiple": p.multiple,
            "nargs": p.nargs,
            "type": p.bare_type(),
            "default": _plain(p.default),
            "envvar": p.envvar,
            "hidden": getattr(p, "hidden", False),
            # What --help shows: metavar, help text, default, env var, range, required.
            "help_record": list(p.get_help_record(ctx) or ()),
        }
        for p in command.params
    ]


def collect_tree(command: Any, path: str = "facelens", parent: Any = None) -> dict[str, Any]:
    """Every command path mapped to its help and parameters, depth first."""
    ctx = command.context_class(command, info_name=path.rsplit(" ", 1)[-1], parent=parent)
    tree: dict[str, Any] = {
        path: {
            "help": command.help,
            "short_help": command.short_help,
            "hidden": command.hidden,
            "no_args_is_help": command.no_args_is_help,
            "params": _params(command, ctx),
            # In the order --help lists them.
            "commands": list(command.list_commands(ctx)) if hasattr(command, "commands") else [],
        }
    }
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        tree.update(collect_tree(sub, f"{path} {name}", ctx))
    return tree


def current_tree() -> dict[str, Any]:
    # Through JSON, so that tuples compare equal to the snapshot's lists.
    loaded: dict[str, Any] = json.loads(json.dumps(collect_tree(typer.main.get_command(app))))
    return loaded


def test_the_command_tree_matches_the_snapshot() -> None:
    expected = json.loads(SNAPSHOT.read_text())
    current = current_tree()
    assert sorted(current) == sorted(expected), "commands were added or removed"
    for path, node in expected.items():
        assert current[path] == node, f"{path} changed"


if __name__ == "__main__":
    SNAPSHOT.parent.mkdir(exist_ok=True)
    SNAPSHOT.write_text(json.dumps(current_tree(), indent=1, sort_keys=True) + "\n")
