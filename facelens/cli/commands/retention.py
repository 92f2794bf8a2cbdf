"""``facelens retention``: destroy data past its retention period."""

from __future__ import annotations

import typer

from facelens.cli.exit_codes import EXIT_OTHER
from facelens.cli.options import DEFAULT_DATA, DataOption, JsonOption, cli_actor, engine_for
from facelens.cli.render import emit_json, err, out

app = typer.Typer(help="Destroy data past its retention period.", no_args_is_help=True)


@app.command("run")
def retention_run(data: DataOption = DEFAULT_DATA, json_output: JsonOption = False) -> None:
    """Destroy images past their collection's retention period, and faces whose consent has
    lapsed (expired, withdrawn, or 3 years without interaction)."""
    from facelens.privacy.retention import run_retention

    with engine_for(data, json_output) as engine:
        report = run_retention(engine, actor=cli_actor())
    if json_output:
        emit_json(report)
    else:
        out.print(
            f"retention: {report.images_deleted} image(s) and {report.faces_deleted} face(s) "
            "destroyed",
            highlight=False,
        )
        for message in report.failures.values():
            err.print(f"error: {message}", highlight=False)
    if report.failures:  # the others ran; say that not everything did
        raise typer.Exit(EXIT_OTHER)
