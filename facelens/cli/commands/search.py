"""``facelens search`` and ``facelens verify``: one-to-many and one-to-one comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facelens.cli.options import DEFAULT_DATA, DataOption, JsonOption, cli_caller, engine_for
from facelens.cli.render import emit_json, out, print_search_result, turn_note
from facelens.types import to_jsonable


def search(
    photo: Annotated[Path, typer.Argument(help="Photo of the person to look for.")],
    top_k: Annotated[int | None, typer.Option("--top-k", min=1, help="Matches per face.")] = None,
    threshold: Annotated[
        float | None,
        typer.Option(min=-1.0, max=1.0, help="Decision threshold (cosine similarity)."),
    ] = None,
    collection: Annotated[
        list[str] | None, typer.Option("--collection", "-c", help="Only these collections.")
    ] = None,
    purpose: Annotated[
        str, typer.Option("--purpose", help="Why you search (logged).", show_default=False)
    ] = "",
    case_ref: Annotated[
        str, typer.Option("--case-ref", help="Case reference (logged).", show_default=False)
    ] = "",
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Every face in PHOTO with its most similar faces in the gallery. Every search is logged
    with who ran it, its purpose and case, the probe embeddings' hashes and the faces shown."""
    with engine_for(data, json_output) as engine:
        caller = cli_caller()
        # Checked (and a refusal logged) by the engine; named here as the options are.
        engine.check_search_purpose(purpose, case_ref, caller, ("--purpose", "--case-ref"))
        result = engine.search(
            photo, top_k=top_k, threshold=threshold, collections=collection,
            purpose=purpose, case_ref=case_ref, caller=caller,
        )  # fmt: skip
    if json_output:
        # The command line's searches have no row in the (per-account) search log.
        emit_json({k: v for k, v in to_jsonable(result).items() if k != "search_id"})
    else:
        print_search_result(result)


def verify(
    photo_a: Annotated[Path, typer.Argument(help="First photo.")],
    photo_b: Annotated[Path, typer.Argument(help="Second photo.")],
    threshold: Annotated[
        float | None,
        typer.Option(min=-1.0, max=1.0, help="Decision threshold (cosine similarity)."),
    ] = None,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Are the main faces of two photos the same person?"""
    with engine_for(data, json_output) as engine:
        result = engine.verify(photo_a, photo_b, threshold=threshold, caller=cli_caller())
    if json_output:
        emit_json(result)
        return
    verdict = "[green]same person[/]" if result.same_person else "[yellow]different people[/]"
    for what, degrees in [
        ("photo A", result.turned_degrees_a),
        ("photo B", result.turned_degrees_b),
    ]:
        if degrees:
            out.print(turn_note(what, degrees))
    out.print(
        f"{verdict}: similarity {result.similarity:.3f}, threshold {result.threshold:.4f}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command()(search)
    app.command()(verify)
