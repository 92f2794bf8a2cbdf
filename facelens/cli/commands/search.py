"""``facelens search`` and ``facelens verify``: one-to-many and one-to-one comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facelens.batch_search import BatchSearchSummary
from facelens.cli.batch_output import BatchOutput, print_batch_summary, probe_json, search_json
from facelens.cli.exit_codes import EXIT_INGEST_FAILURES
from facelens.cli.options import DEFAULT_DATA, DataOption, JsonOption, cli_caller, engine_for
from facelens.cli.render import emit_json, out, print_search_result, progress_bar, turn_note
from facelens.cli.render_persons import print_person_search
from facelens.engine import Engine
from facelens.errors import InvalidArgumentError
from facelens.types import Caller


def search(
    photos: Annotated[
        list[Path],
        typer.Argument(
            help="Photos of the person to look for, or folders of them (recursive).",
            show_default=False,
        ),
    ],
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
    jsonl: Annotated[
        Path | None,
        typer.Option("--jsonl", help="Write one JSON object per probe to this file."),
    ] = None,
    csv_path: Annotated[
        Path | None,
        typer.Option(
            "--csv", help="Write one row per probe face and match to this CSV file (UTF-8)."
        ),
    ] = None,
    per_person: Annotated[
        bool,
        typer.Option(
            "--per-person",
            help="Answer with persons (each scored on all their faces, fused by the "
            "person_fusion setting) and faces no person holds, instead of faces.",
        ),
    ] = False,
    same_person: Annotated[
        bool,
        typer.Option(
            "--same-person",
            help="PHOTOS are all of one person: their main faces are fused into one probe, "
            "searched and logged once.",
        ),
    ] = False,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Every face in PHOTOS with its most similar faces in the gallery. Every search is logged
    with who ran it, its purpose and case, the probe embeddings' hashes and the faces shown.

    Several photos or a folder are searched in one go (models loaded once), each probe logged
    as a search of its own with the same purpose and case; one that cannot be read or has no
    usable face is reported and the others go on (exit code 8). With --same-person they are
    photos of one person instead, searched as one probe."""
    batch = not same_person and (
        len(photos) > 1 or photos[0].is_dir() or jsonl is not None or csv_path is not None
    )
    with engine_for(data, json_output) as engine:
        caller = cli_caller()
        # Checked (and a refusal logged) by the engine; named here as the options are.
        engine.check_search_purpose(purpose, case_ref, caller, ("--purpose", "--case-ref"))
        if same_person:
            _check_same_person(photos, jsonl, csv_path)
            result = engine.search_same_person(
                photos, top_k=top_k, threshold=threshold, collections=collection,
                purpose=purpose, case_ref=case_ref, caller=caller, per_person=per_person,
            )  # fmt: skip
        elif batch:
            summary = _search_many(
                engine, caller, photos, top_k, threshold, collection, purpose, case_ref,
                jsonl, csv_path, json_output, per_person,
            )  # fmt: skip
        else:
            result = engine.search(
                photos[0], top_k=top_k, threshold=threshold, collections=collection,
                purpose=purpose, case_ref=case_ref, caller=caller, per_person=per_person,
            )  # fmt: skip
    if batch:
        if summary.no_face or summary.failed:
            raise typer.Exit(EXIT_INGEST_FAILURES)
    elif json_output:
        emit_json(search_json(result))
    elif result.person_fusion is not None or result.fused_probe_sha256:
        print_person_search(result)
    else:
        print_search_result(result)


def _check_same_person(photos: list[Path], jsonl: Path | None, csv_path: Path | None) -> None:
    """--same-person takes photo files, and answers one search (no --jsonl or --csv)."""
    if jsonl is not None or csv_path is not None:
        raise InvalidArgumentError("--same-person answers one search: no --jsonl or --csv")
    for photo in photos:
        if photo.is_dir():
            raise InvalidArgumentError(f"--same-person takes photos, not a folder: {photo}")


def _search_many(
    engine: Engine,
    caller: Caller,
    photos: list[Path],
    top_k: int | None,
    threshold: float | None,
    collection: list[str] | None,
    purpose: str,
    case_ref: str,
    jsonl: Path | None,
    csv_path: Path | None,
    json_output: bool,
    per_person: bool = False,
) -> BatchSearchSummary:
    """``search`` over many probes: a progress bar, the outcomes written as they come, then
    the summary (``--json``: the summary and every probe, as the lines of ``--jsonl``)."""
    summary = BatchSearchSummary()
    probes: list[dict[str, object]] = []
    written = [p for p in (jsonl, csv_path) if p is not None]
    with (
        BatchOutput(jsonl, csv_path, results=not written, quiet=json_output) as output,
        progress_bar(disable=json_output) as progress,
    ):
        task = progress.add_task("search", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        for outcome in engine.search_many(
            photos, top_k=top_k, threshold=threshold, collections=collection,
            purpose=purpose, case_ref=case_ref, caller=caller, progress=advance,
            per_person=per_person,
        ):  # fmt: skip
            summary.count(outcome)
            output.write(outcome)
            if json_output:
                probes.append(probe_json(outcome))
    if json_output:
        emit_json({"summary": summary, "probes": probes})
    else:
        print_batch_summary(summary, written)
    return summary


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
