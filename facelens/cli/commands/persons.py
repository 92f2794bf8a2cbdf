"""``facelens person``: named persons and their faces."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facelens.cli.options import DEFAULT_DATA, DataOption, JsonOption, cli_actor, engine_for
from facelens.cli.render import emit_json, out, print_persons

app = typer.Typer(help="Named persons and their faces.", no_args_is_help=True)


@app.command("add")
def person_add(
    name: Annotated[str, typer.Argument(help="The person's name.")],
    photos: Annotated[list[Path], typer.Argument(help="Photos of the person (one face each).")],
    collection: Annotated[
        str, typer.Option("--collection", "-c", help="Collection the photos are stored in.")
    ] = "enrolment",
    consent: Annotated[
        int | None,
        typer.Option("--consent", help="Consent record id (required in a consent collection)."),
    ] = None,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Enrol NAME with the main face of each photo (creates the person if needed)."""
    with engine_for(data, json_output) as engine:
        person = engine.enrol(name, photos, collection=collection, consent_id=consent)
        # By id: the name is sealed in the store, the log must not keep it in the clear.
        engine.audit(
            cli_actor(), "cli person add", f"person {person.id}",
            {"collection": collection, "consent_id": consent},
        )  # fmt: skip
    if json_output:
        emit_json(person)
    else:
        out.print(f"person {person.id} {person.name!r}: {len(person.face_ids)} face(s)")


@app.command("list")
def person_list(data: DataOption = DEFAULT_DATA, json_output: JsonOption = False) -> None:
    """Every person with the ids of their faces."""
    with engine_for(data, json_output) as engine:
        persons = engine.persons()
    if json_output:
        emit_json(persons)
    else:
        print_persons(persons)
