"""``facelens delete``, ``facelens stats`` and ``facelens doctor``: the data folder."""

from __future__ import annotations

from typing import Annotated

import typer

import facelens
from facelens.cli.exit_codes import EXIT_UNHEALTHY, exit_code_for
from facelens.cli.options import (
    DEFAULT_DATA,
    DataOption,
    JsonOption,
    cli_actor,
    engine_for,
    engine_for_opened,
)
from facelens.cli.render import emit_json, out, print_doctor, print_stats
from facelens.config import Settings
from facelens.errors import FacelensError


def delete(
    image: Annotated[int | None, typer.Option("--image", help="Image id.")] = None,
    face: Annotated[int | None, typer.Option("--face", help="Face id.")] = None,
    person: Annotated[
        int | None, typer.Option("--person", help="Person id (and their faces).")
    ] = None,
    collection: Annotated[
        str | None, typer.Option("--collection", help="Collection name (and everything in it).")
    ] = None,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Delete from the store and the index: exactly one of --image, --face, --person,
    --collection."""
    with engine_for(data, json_output) as engine:
        removed = engine.delete(image=image, face=face, person=person, collection=collection)
        named = {"image": image, "face": face, "person": person, "collection": collection}
        subject = ", ".join(f"{k} {v}" for k, v in named.items() if v is not None)
        engine.audit(cli_actor(), "cli delete", subject, {"faces_removed": removed})
    if json_output:
        emit_json({"faces_removed": removed})
    else:
        out.print(f"deleted; {removed} indexed face(s) removed")


def stats(data: DataOption = DEFAULT_DATA, json_output: JsonOption = False) -> None:
    """Counts of collections, images, faces and persons, and the model and backends in use."""
    with engine_for(data, json_output) as engine:
        result = engine.stats()
    if json_output:
        emit_json(result)
    else:
        print_stats(result, engine.settings.min_face_size_px)


def doctor(
    repair: Annotated[
        bool, typer.Option("--repair", help="Repair what can be: rebuild the index.")
    ] = False,
    delete_quarantined: Annotated[
        bool,
        typer.Option(
            "--delete-quarantined",
            help="Also delete the faces whose stored template does not open (implies --repair).",
        ),
    ] = False,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Check the store, index, keys, audit chain and templates; exit 11 if problems remain
    (with --repair, after repairing what can be; nothing stored is dropped without
    --delete-quarantined)."""
    from facelens.doctor import examine, examine_unopenable

    repair = repair or delete_quarantined
    try:
        engine = facelens.open(settings=Settings(data_dir=data))
    except FacelensError as exc:
        # A folder that does not open is still examined: the report says why.
        print_doctor(examine_unopenable(data, exc), json_output)
        raise typer.Exit(exit_code_for(exc)) from None
    with engine_for_opened(engine, json_output):
        report = examine(
            engine, repair=repair, delete_quarantined=delete_quarantined, actor=cli_actor()
        )
        engine.audit(
            cli_actor(),
            "cli doctor",
            "data folder",
            {"repair": repair, "problems": report.problems},
        )
    print_doctor(report, json_output)
    if not report.healthy:
        raise typer.Exit(EXIT_UNHEALTHY)


def register(app: typer.Typer) -> None:
    app.command()(delete)
    app.command()(stats)
    app.command()(doctor)
