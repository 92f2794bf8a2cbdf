"""``facelens report``: reports."""

from __future__ import annotations

from typing import Annotated

import typer

from facelens.cli.options import (
    DEFAULT_DATA,
    DataOption,
    JsonOption,
    cli_actor,
    engine_for,
    parse_when,
)
from facelens.cli.render import emit_json, print_transparency

app = typer.Typer(help="Reports.", no_args_is_help=True)


@app.command("transparency")
def report_transparency(
    since: Annotated[str, typer.Option("--since", help="Start date, YYYY-MM-DD.")],
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Counts since DATE: searches by purpose, access and erasure requests and their outcomes,
    retention deletions, refusals by rule."""
    with engine_for(data, json_output) as engine:
        start = parse_when(since, "--since")
        assert start is not None
        report = engine.transparency_report(start)
        engine.audit(cli_actor(), "report transparency", since, {})
    if json_output:
        emit_json(report)
    else:
        print_transparency(report, since)
