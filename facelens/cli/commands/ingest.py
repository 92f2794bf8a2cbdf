"""``facelens ingest`` and ``facelens ingest-manifest``: faces into a collection."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facelens.cli.exit_codes import EXIT_INGEST_FAILURES
from facelens.cli.options import DEFAULT_DATA, DataOption, JsonOption, cli_actor, engine_for
from facelens.cli.render import emit_json, print_ingest_report, progress_bar
from facelens.distributed.options import RayOptions
from facelens.types import Provenance


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Image files or folders (recursive).")],
    collection: Annotated[str, typer.Option("--collection", "-c", help="Collection to add to.")],
    source_url: Annotated[
        str | None, typer.Option(help="Where these images came from (stored as provenance).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: one per core).")
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Analyse on a Ray cluster: auto, HOST:PORT of its head, or local (a new one "
            "on this machine). Every path must be readable from every node.",
        ),
    ] = None,
    ray_actors: Annotated[
        int, typer.Option(min=0, help="Ray detection actors, a CPU each (0: one per CPU).")
    ] = 0,
    ray_gpus: Annotated[
        float, typer.Option(min=0, help="GPUs of the Ray embedding actor (0: on CPU).")
    ] = 0.0,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Detect, embed and index every face in PATHS; files already ingested are skipped."""
    options = None if ray is None else RayOptions(ray, actors=ray_actors, embed_gpus=ray_gpus)
    with (
        engine_for(data, json_output) as engine,
        progress_bar(disable=json_output) as progress,
    ):
        task = progress.add_task("ingest", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = engine.ingest(
            paths,
            collection,
            provenance=Provenance(origin_url=source_url),
            workers=workers,
            progress=advance,
            actor=cli_actor(),
            ray=options,
        )
        engine.audit(
            cli_actor(),
            "cli ingest",
            collection,
            {
                "images": report.images_ingested,
                "faces": report.faces_indexed,
                "faces_suppressed": report.faces_suppressed,
                **({"ray": ray} if ray is not None else {}),
            },
        )
    if json_output:
        emit_json(report)
    else:
        print_ingest_report(report, engine.settings.min_face_size_px)
    if report.failures:
        raise typer.Exit(EXIT_INGEST_FAILURES)


def ingest_manifest(
    manifest: Annotated[
        Path, typer.Argument(help="CSV with image_url, page_url[, licence_ref, captured_at].")
    ],
    collection: Annotated[str, typer.Option("--collection", "-c", help="Collection to add to.")],
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Fetch exactly the image URLs MANIFEST lists (never the pages, never a link) and ingest
    them with their page URL as provenance. Loopback, link-local and private addresses are
    refused unless fetch_allowed_networks allows them; redirects are refused."""
    with (
        engine_for(data, json_output) as engine,
        progress_bar(disable=json_output) as progress,
    ):
        task = progress.add_task("fetch and ingest", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = engine.ingest_manifest(manifest, collection, progress=advance)
        engine.audit(
            cli_actor(),
            "cli ingest-manifest",
            collection,
            {
                "manifest": str(manifest),
                "images": report.images_ingested,
                "faces": report.faces_indexed,
                "failed": len(report.failures),
                "refusals": report.refusals,
            },
        )
    if json_output:
        emit_json(report)
    else:
        print_ingest_report(report, engine.settings.min_face_size_px)
    if report.failures:
        raise typer.Exit(EXIT_INGEST_FAILURES)


def register(app: typer.Typer) -> None:
    app.command()(ingest)
    app.command("ingest-manifest")(ingest_manifest)
