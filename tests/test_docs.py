"""Keep the README honest: every setting documented with its default, every command listed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer

from facelens.cli.main import app
from facelens.config import DEFAULT_MATCH_THRESHOLD, Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme_table_with_its_default(name: str) -> None:
    default = Settings.model_fields[name].get_default(call_default_factory=True)
    rows = [line for line in README.splitlines() if line.startswith(f"| `{name}` |")]
    assert rows, f"setting {name} is not documented in the README's settings table"
    assert str(default) in rows[0], f"README shows another default for {name}: {rows[0]}"


def command_lines(command: Any, prefix: str) -> list[str]:
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        return [prefix]
    return [
        line for name, sub in subcommands.items() for line in command_lines(sub, f"{prefix} {name}")
    ]


def test_every_command_is_in_the_readme() -> None:
    lines = command_lines(typer.main.get_command(app), "facelens")
    assert "facelens person add" in lines and "facelens search" in lines
    for line in lines:
        assert line in README, f"{line} is not in the README"


def test_the_default_threshold_is_the_one_derived_on_lfw_view_1_with_the_defaults() -> None:
    """bench/results/lfw/results.json is the last full `facelens eval lfw` run."""
    derived = json.loads((ROOT / "bench/results/lfw/results.json").read_text())
    defaults = Settings()
    for name, value in derived["settings"].items():
        if name != "match_threshold":
            assert getattr(defaults, name) == value, (
                f"results.json was measured with {name}={value}"
            )
    assert derived["view1"]["threshold_at_fmr_1e-3"] == DEFAULT_MATCH_THRESHOLD
    assert f"{DEFAULT_MATCH_THRESHOLD}" in README


def test_every_row_of_the_compliance_map_names_tests_that_exist() -> None:
    """docs/compliance.md: each requirement row names at least one test, and each exists."""
    compliance = (ROOT / "docs" / "compliance.md").read_text()
    rows = [
        line
        for line in compliance.splitlines()
        if line.startswith("| ")
        and not line.startswith(("| requirement", "| section", "| article", "| remedy"))
    ]
    assert len(rows) >= 20
    for row in rows:
        named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", row)
        assert named, f"a row names no test: {row[:80]}"
        for path, test in named:
            source = (ROOT / path).read_text()
            assert f"def {test}(" in source, f"{path}::{test} does not exist"
