"""``facelens subject``: data subject requests by selfie (access, erasure and opt-out),
opened here, reviewed and confirmed by an admin."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facelens.cli.options import DEFAULT_DATA, DataOption, JsonOption, cli_actor, engine_for
from facelens.cli.render import (
    emit_json,
    out,
    print_access_report,
    print_review,
    print_subject_requests,
)
from facelens.errors import InvalidArgumentError

app = typer.Typer(
    help="Data subject requests by selfie: access, erasure and opt-out.", no_args_is_help=True
)

RefOption = Annotated[str, typer.Option("--ref", help="The request's reference (logged).")]
PhotosArgument = Annotated[
    list[Path], typer.Argument(help="Photos of the requester (several find more of them).")
]


@app.command("access")
def subject_access(
    photos: PhotosArgument,
    ref: RefOption,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Open an access request: the candidate faces for an admin to review; nothing is
    disclosed until `subject confirm`."""
    from facelens.privacy.rights import ACCESS, open_request

    with engine_for(data, json_output) as engine:
        opened = open_request(engine, ACCESS, list(photos), ref, cli_actor())
    if json_output:
        emit_json(opened)
    else:
        print_review(opened)


@app.command("erase")
def subject_erase(
    photos: PhotosArgument,
    ref: RefOption,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Open an erasure and opt-out request; `subject confirm` carries it out."""
    from facelens.privacy.rights import ERASURE, open_request

    with engine_for(data, json_output) as engine:
        opened = open_request(engine, ERASURE, list(photos), ref, cli_actor())
    if json_output:
        emit_json(opened)
    else:
        print_review(opened)


@app.command("review")
def subject_review(
    request_id: Annotated[int, typer.Argument(help="The subject request's id.")],
    crops: Annotated[
        Path | None, typer.Option("--crops", help="Write a crop of each candidate here.")
    ] = None,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """A request's candidates with their sources (and crops) for the admin to decide on."""
    from facelens.privacy.rights import candidate_crop, review

    with engine_for(data, json_output) as engine:
        opened = review(engine, request_id, cli_actor())
        if crops is not None:
            crops.mkdir(parents=True, exist_ok=True)
            for face in opened.candidates:
                crop = candidate_crop(engine, request_id, face.face_id, cli_actor())
                (crops / f"face-{face.face_id}.jpg").write_bytes(crop)
    if json_output:
        emit_json(opened)
    else:
        print_review(opened)


@app.command("confirm")
def subject_confirm(
    request_id: Annotated[int, typer.Argument(help="The pending request's id.")],
    faces: Annotated[
        list[int] | None,
        typer.Option("--face", help="A candidate that is the requester's (repeat the option)."),
    ] = None,
    none: Annotated[bool, typer.Option("--none", help="No candidate is the requester's.")] = False,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """The admin's decision: the faces named are the requester's, every other candidate is
    not. Access: the report holds exactly these. Erasure: these are erased and the person
    goes on the suppression list (future ingests skip them; searches never show them)."""
    from facelens.privacy.rights import ERASURE, confirm

    with engine_for(data, json_output) as engine:
        if not faces and not none:
            raise InvalidArgumentError(
                "name the candidates that are the requester's (--face ID ...), or --none"
            )
        request = confirm(engine, request_id, faces or [], cli_actor())
    if json_output:
        emit_json(request)
    elif request.kind == ERASURE:
        out.print(
            f"erasure request {request.id} done: {request.faces_erased} face(s) and "
            f"{request.images_erased} image(s) erased; the person is on the suppression list"
        )
    else:
        out.print(
            f"access request {request.id} done: {request.faces_confirmed} face(s) confirmed; "
            f"the report: facelens subject report {request.id} [--out FILE.zip]"
        )


@app.command("report")
def subject_report(
    request_id: Annotated[int, typer.Argument(help="The confirmed access request's id.")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the report (a zip) to send them.")
    ] = None,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """The faces an admin confirmed as the requester's, with sources, basis and retention."""
    from facelens.privacy.rights import access_report, export_access_report

    with engine_for(data, json_output) as engine:
        report = access_report(engine, request_id, cli_actor())
        if out_file is not None:
            out_file.write_bytes(export_access_report(engine, report, cli_actor()))
    if json_output:
        emit_json(report)
        return
    print_access_report(report)
    if out_file is not None:
        out.print(f"report written to {out_file}")


@app.command("list")
def subject_list(data: DataOption = DEFAULT_DATA, json_output: JsonOption = False) -> None:
    """Every access and erasure request and its outcome."""
    with engine_for(data, json_output) as engine:
        requests = engine.subject_requests()
    if json_output:
        emit_json(requests)
    else:
        print_subject_requests(requests)
