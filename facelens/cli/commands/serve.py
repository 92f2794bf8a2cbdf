"""``facelens serve`` and ``facelens demo``: the web interface and a guided first run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facelens.cli.options import DEFAULT_DATA, DataOption, cli_caller, engine_for
from facelens.cli.render import out, print_ingest_report, print_search_result
from facelens.config import Settings
from facelens.engine import Engine
from facelens.privacy.policy import CollectionPolicy, LegalBasis
from facelens.security.accounts import Role


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    data: DataOption = DEFAULT_DATA,
) -> None:
    """Serve the web interface (/) and the HTTP API (OpenAPI docs at /docs) on the data
    folder."""
    run_server(data, host, port)


def run_server(data: Path, host: str, port: int) -> None:
    import uvicorn  # the server is only needed here

    from facelens.api.app import create_app

    out.print(
        f"facelens on [bold]http://{host}:{port}/[/] (API docs: http://{host}:{port}/docs); "
        "Ctrl-C stops it",
        highlight=False,
    )
    uvicorn.run(create_app(Settings(data_dir=data)), host=host, port=port, log_level="warning")


#: The demo's collection: public test photos shipped with face_recognition 1.3.0.
DEMO_POLICY = CollectionPolicy(
    basis=LegalBasis.OTHER,
    basis_text="demonstration on the public sample photos of face_recognition 1.3.0",
    jurisdictions=["US"],
    purpose="show how facelens works",
    retention_days=30,
)


def demo(
    data: DataOption = DEFAULT_DATA,
    serve_web: Annotated[
        bool, typer.Option("--serve", help="Then serve the web interface on that data.")
    ] = False,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
) -> None:
    """Ingest the sample photos (fetched from PyPI), name their people, search with another
    photo of one of them; with --serve, then make the first accounts and serve the web
    interface."""
    from facelens.samples import sample_photos

    photos = sample_photos()
    people = {"Barack Obama": ["obama.jpg", "obama3.jpg"], "Joe Biden": ["biden.jpg"]}
    probe = photos / "obama2.jpg"
    with engine_for(data, False) as engine:
        gallery = [photos / name for names in people.values() for name in names]
        if "samples" not in engine.collection_names():
            engine.create_collection("samples", DEMO_POLICY)
        out.print(
            f"[bold]1.[/] ingest {len(gallery)} sample photos from {photos} into {data}/ "
            f"(collection 'samples': basis {DEMO_POLICY.basis.value}, "
            f"{DEMO_POLICY.basis_text}; kept {DEMO_POLICY.retention_days} days)",
            highlight=False,
        )
        print_ingest_report(engine.ingest(gallery, "samples", workers=1))
        for person, names in people.items():
            engine.enrol(person, [photos / n for n in names], collection="samples")
        out.print(f"[bold]2.[/] named the faces: {', '.join(people)}")
        out.print(f"[bold]3.[/] search with {probe} (not in the gallery)")
        print_search_result(
            engine.search(
                probe, purpose="show how facelens works", case_ref="demo", caller=cli_caller()
            )
        )
        result = engine.verify(photos / "obama.jpg", photos / "biden.jpg", caller=cli_caller())
        out.print(
            f"[bold]4.[/] verify obama.jpg vs biden.jpg: similarity {result.similarity:.3f} -> "
            f"{'same person' if result.same_person else 'different people'}",
            highlight=False,
        )
        if serve_web:
            first_accounts(engine)
            out.print(f"[bold]6.[/] in the web interface, search with {probe}")
    if serve_web:
        run_server(data, host, port)


def first_accounts(engine: Engine) -> None:
    """An admin and an analyst account on a data folder that has none, their keys printed."""
    if engine.accounts():
        out.print(
            "[bold]5.[/] accounts exist already (keys are shown once, when made); make another "
            "with: facelens account create NAME --role analyst"
        )
        return
    out.print("[bold]5.[/] first accounts (keys are shown this once; only hashes are kept):")
    for name, role in (("admin", Role.ADMIN), ("analyst", Role.ANALYST)):
        account, key = engine.create_account(name, role)
        out.print(f"   {account.role:<8} key: ", end="")
        print(key)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(demo)
