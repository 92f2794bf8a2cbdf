"""``facelens reindex``: re-embed a data folder's faces with another model, then switch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facelens.cli.exit_codes import EXIT_INGEST_FAILURES
from facelens.cli.options import DEFAULT_DATA, DataOption, JsonOption, cli_actor, engine_for
from facelens.cli.render import emit_json, print_reindex_report, progress_bar
from facelens.types import to_jsonable


def reindex(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="An ONNX face model file (its description beside it, docs/models.md), or a "
            "built-in model: onnx (the default) or dlib.",
        ),
    ],
    description: Annotated[
        Path | None,
        typer.Option(help="The ONNX model's description, if not the .json file beside it."),
    ] = None,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Re-embed every face from its source image with MODEL and switch the data folder to it
    once every face is done (persons and assignments stay). Faces whose source is missing,
    unreadable or changed are listed and nothing switches (exit 8): fix them and rerun, it
    resumes. Refused while the opt-out list holds templates or a subject request is pending."""
    with (
        engine_for(data, json_output) as engine,
        progress_bar(disable=json_output) as progress,
    ):
        task = progress.add_task("re-embed faces", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = engine.reindex(model, description=description, actor=cli_actor(), progress=advance)
    if json_output:
        emit_json({**to_jsonable(report), "faces_failed": report.faces_failed})
    else:
        print_reindex_report(report)
    if report.failures:
        raise typer.Exit(EXIT_INGEST_FAILURES)


def register(app: typer.Typer) -> None:
    app.command()(reindex)
