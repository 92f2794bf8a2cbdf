"""``facelens person``: named persons and their faces."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facelens.cli.options import (
    DEFAULT_DATA,
    DataOption,
    JsonOption,
    cli_actor,
    cli_caller,
    engine_for,
)
from facelens.cli.render import emit_json, out, print_persons
from facelens.cli.render_persons import print_references

app = typer.Typer(
    help="Named persons and their faces; reviewers' feedback (not this person, merge, split).",
    no_args_is_help=True,
)


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


PersonId = Annotated[int, typer.Argument(help="The person's id.")]
FaceId = Annotated[int, typer.Argument(help="The face's id.")]


@app.command("reject")
def person_reject(
    person_id: PersonId,
    face_id: FaceId,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Not this person: the face is taken from the person (if theirs), never proposed for
    them again and cannot be assigned to them until `person unreject`. Recorded and audited."""
    with engine_for(data, json_output) as engine:
        rejection = engine.reject_match(person_id, face_id, caller=cli_caller())
    if json_output:
        emit_json(rejection)
    else:
        out.print(f"face {face_id} is not person {person_id} (by {rejection.rejected_by})")


@app.command("unreject")
def person_unreject(
    person_id: PersonId,
    face_id: FaceId,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Withdraw a "not this person" (the withdrawal is recorded too, and audited)."""
    with engine_for(data, json_output) as engine:
        rejection = engine.withdraw_rejection(person_id, face_id, caller=cli_caller())
    if json_output:
        emit_json(rejection)
    else:
        out.print(f"face {face_id} may be person {person_id} again (withdrawn)")


@app.command("rejections")
def person_rejections(
    person_id: Annotated[
        int | None, typer.Argument(help="The person's id (default: everyone's).")
    ] = None,
    withdrawn: Annotated[
        bool, typer.Option("--withdrawn", help="Also list rejections since withdrawn.")
    ] = False,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """The faces reviewers said are not the person, with who said so and when."""
    with engine_for(data, json_output) as engine:
        rejections = engine.rejections(person_id, withdrawn=withdrawn)
    if json_output:
        emit_json(rejections)
        return
    for r in rejections:  # one line each: who said so and when, and any withdrawal
        line = f"face {r.face_id} is not person {r.person_id}: {r.rejected_by} {r.rejected_at:%c}"
        if r.withdrawn_at is not None:
            line += f"; withdrawn by {r.withdrawn_by} {r.withdrawn_at:%c}"
        out.print(line)
    if not rejections:
        out.print("no rejections")


@app.command("merge")
def person_merge(
    into_id: Annotated[int, typer.Argument(help="The person who stays.")],
    other_id: Annotated[int, typer.Argument(help="The person merged in (then deleted).")],
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Move OTHER_ID's faces and rejections to INTO_ID and delete OTHER_ID (audited)."""
    with engine_for(data, json_output) as engine:
        person = engine.merge_persons(into_id, other_id, caller=cli_caller())
    if json_output:
        emit_json(person)
    else:
        out.print(f"person {other_id} merged into {person.id}: {len(person.face_ids)} face(s)")


@app.command("split")
def person_split(
    person_id: PersonId,
    faces: Annotated[
        list[int], typer.Option("--face", help="A face to move to the new person (repeat).")
    ],
    name: Annotated[str, typer.Option("--name", help="The new person's name.")],
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Move some of the person's faces into a new person NAME (audited)."""
    with engine_for(data, json_output) as engine:
        person = engine.split_person(person_id, faces, name, caller=cli_caller())
    if json_output:
        emit_json(person)
    else:
        out.print(
            f"person {person.id} {person.name!r} split off person {person_id}: "
            f"{len(person.face_ids)} face(s)"
        )


@app.command("check")
def person_check(
    person_id: PersonId,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Check the person's reference faces against each other: each face's median similarity
    to the others and its quality; faces that do not agree with the rest (outlier) or are
    small or blurred (low quality) are flagged for review. Audited."""
    with engine_for(data, json_output) as engine:
        report = engine.check_person_references(person_id, caller=cli_caller())
    if json_output:
        emit_json(report)
    else:
        print_references(report)
