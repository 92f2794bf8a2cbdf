"""The ``facelens`` command. Every command takes ``--data DIR`` (or ``FACELENS_DATA``); the
exit codes are in ``facelens.cli.exit_codes``."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.logging import RichHandler
from rich.progress import TaskID
from rich.table import Table

import facelens
from facelens.cli.exit_codes import (
    EXIT_AUDIT_TAMPERED,
    EXIT_BAD_IMAGE,
    EXIT_IN_USE,
    EXIT_INGEST_FAILURES,
    EXIT_MODEL_MISMATCH,
    EXIT_NO_FACE,
    EXIT_NOT_FOUND,
    EXIT_OTHER,
    EXIT_REFUSED,
    EXIT_STORE,
    EXIT_UNEXPECTED,
    EXIT_UNHEALTHY,
    EXIT_USAGE,
    exit_code_for,
    interrupt_exits,
    settings_or_exit,
)
from facelens.cli.options import (
    DEFAULT_DATA,
    DataOption,
    JsonOption,
    cli_actor,
    cli_caller,
    engine_for,
    engine_for_opened,
    parse_when,
)
from facelens.cli.render import (
    emit_json,
    err,
    out,
    print_doctor,
    print_eval_summary,
    print_ingest_report,
    print_search_result,
    progress_bar,
)
from facelens.config import Settings
from facelens.engine import Engine
from facelens.errors import FacelensError, InvalidArgumentError
from facelens.pipeline.batch import default_workers
from facelens.privacy.audit import Checkpoint
from facelens.privacy.policy import MAX_RETENTION_DAYS, CollectionPolicy, LegalBasis
from facelens.security.accounts import Role
from facelens.types import Provenance, to_jsonable

if TYPE_CHECKING:
    from facelens.privacy.rights import RequestReview

# The exit codes stay importable from here, where callers have always found them.
__all__ = [
    "EXIT_AUDIT_TAMPERED",
    "EXIT_BAD_IMAGE",
    "EXIT_INGEST_FAILURES",
    "EXIT_IN_USE",
    "EXIT_MODEL_MISMATCH",
    "EXIT_NOT_FOUND",
    "EXIT_NO_FACE",
    "EXIT_OTHER",
    "EXIT_REFUSED",
    "EXIT_STORE",
    "EXIT_UNEXPECTED",
    "EXIT_UNHEALTHY",
    "EXIT_USAGE",
    "app",
    "main",
]

app = typer.Typer(
    help="facelens: find every face of a person in the image collections you hold.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
person_app = typer.Typer(help="Named persons and their faces.", no_args_is_help=True)
index_app = typer.Typer(help="The vector index (derived from the store).", no_args_is_help=True)
app.add_typer(person_app, name="person")
eval_app = typer.Typer(help="Measure error rates on public benchmarks.", no_args_is_help=True)
app.add_typer(index_app, name="index")
app.add_typer(eval_app, name="eval")
account_app = typer.Typer(help="Accounts of the service and their API keys.", no_args_is_help=True)
app.add_typer(account_app, name="account")
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
collection_app = typer.Typer(
    help="Collections and their legal basis (declared before anything is ingested).",
    no_args_is_help=True,
)
app.add_typer(collection_app, name="collection")
consent_app = typer.Typer(help="The consent registry.", no_args_is_help=True)
app.add_typer(consent_app, name="consent")
subject_app = typer.Typer(
    help="Data subject requests by selfie: access, erasure and opt-out.", no_args_is_help=True
)
app.add_typer(subject_app, name="subject")
retention_app = typer.Typer(help="Destroy data past its retention period.", no_args_is_help=True)
app.add_typer(retention_app, name="retention")
keys_app = typer.Typer(help="The template key (encryption at rest).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
report_app = typer.Typer(help="Reports.", no_args_is_help=True)
app.add_typer(report_app, name="report")


# --- ingest -------------------------------------------------------------------------------


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Image files or folders (recursive).")],
    collection: Annotated[str, typer.Option("--collection", "-c", help="Collection to add to.")],
    source_url: Annotated[
        str | None, typer.Option(help="Where these images came from (stored as provenance).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: one per core).")
    ] = None,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Detect, embed and index every face in PATHS; files already ingested are skipped."""
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
        )
        engine.audit(
            cli_actor(),
            "cli ingest",
            collection,
            {
                "images": report.images_ingested,
                "faces": report.faces_indexed,
                "faces_suppressed": report.faces_suppressed,
            },
        )
    if json_output:
        emit_json(report)
    else:
        print_ingest_report(report)
    if report.failures:
        raise typer.Exit(EXIT_INGEST_FAILURES)


@app.command("ingest-manifest")
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
        print_ingest_report(report)
    if report.failures:
        raise typer.Exit(EXIT_INGEST_FAILURES)


# --- search and verify --------------------------------------------------------------------


@app.command()
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


@app.command()
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
    out.print(
        f"{verdict}: similarity {result.similarity:.3f}, threshold {result.threshold:.4f}",
        highlight=False,
    )


# --- persons ------------------------------------------------------------------------------


@person_app.command("add")
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


@person_app.command("list")
def person_list(data: DataOption = DEFAULT_DATA, json_output: JsonOption = False) -> None:
    """Every person with the ids of their faces."""
    with engine_for(data, json_output) as engine:
        persons = engine.persons()
    if json_output:
        emit_json(persons)
        return
    table = Table("id", "name", "faces", "face ids")
    for p in persons:
        table.add_row(str(p.id), p.name, str(len(p.face_ids)), ",".join(map(str, p.face_ids)))
    out.print(table)


# --- delete, stats, index -----------------------------------------------------------------


@app.command()
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


@app.command()
def stats(data: DataOption = DEFAULT_DATA, json_output: JsonOption = False) -> None:
    """Counts of collections, images, faces and persons, and the model and backends in use."""
    with engine_for(data, json_output) as engine:
        result = engine.stats()
    if json_output:
        emit_json(result)
        return
    table = Table("what", "value")
    for key, value in to_jsonable(result).items():
        if key == "model":
            value = value["id"]
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        table.add_row(key, str(value))
    out.print(table)


@index_app.command("rebuild")
def index_rebuild(data: DataOption = DEFAULT_DATA, json_output: JsonOption = False) -> None:
    """Rebuild the index from the store (the source of truth)."""
    with engine_for(data, json_output) as engine:
        count = engine.rebuild_index()
        engine.audit(cli_actor(), "cli index rebuild", "index", {"faces": count})
    if json_output:
        emit_json({"faces_indexed": count})
    else:
        out.print(f"index rebuilt from the store: {count} faces")


@app.command()
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


# --- service ------------------------------------------------------------------------------


@account_app.command("create")
def account_create(
    name: Annotated[str, typer.Argument(help="Who the account is for.")],
    role: Annotated[Role, typer.Option("--role", help="What the account may do.")],
    jurisdiction: Annotated[
        str | None,
        typer.Option(help="Where the account operates (for the jurisdiction policy), e.g. GB."),
    ] = None,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Create an account and print its API key: shown this once, only a hash is kept."""
    with engine_for(data, json_output) as engine:
        account, key = engine.create_account(name, role, jurisdiction)
        engine.audit(
            cli_actor(),
            "cli account create",
            name,
            {"role": role.value, "jurisdiction": jurisdiction},
        )
    if json_output:
        emit_json({"account": account, "key": key})
    else:
        out.print(f"account {account.id} {account.name!r} ({account.role}); API key:")
        print(key)


@app.command()
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


@audit_app.command("verify")
def audit_verify(
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
    against: Annotated[
        Path | None,
        typer.Option(
            "--against",
            help="A checkpoint (facelens audit checkpoint) the log must still hold: detects "
            "entries cut off its end.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Check the audit log's keyed hash chain: exit 9 if any entry was edited, deleted or
    moved (or, with --against, if the log no longer holds the checkpoint's entries)."""
    with engine_for(data, json_output) as engine:
        checkpoint = Checkpoint.from_json(against.read_text()) if against else None
        check = engine.verify_audit(checkpoint)
    if json_output:
        emit_json(check)
    elif check.intact:
        matched = (
            f"; checkpoint at entry {check.checkpoint_last_id} matches"
            if check.checkpoint_last_id is not None
            else ""
        )
        out.print(
            f"audit log intact: {check.entries} entries, hash chain verified{matched}",
            highlight=False,
        )
    else:
        where = f"entry {check.first_bad_id}: " if check.first_bad_id is not None else ""
        err.print(
            f"[bold red]audit log tampered with:[/] {where}{check.problem}",
            highlight=False,
        )
    if not check.intact:
        raise typer.Exit(EXIT_AUDIT_TAMPERED)


@audit_app.command("checkpoint")
def audit_checkpoint(
    out_file: Annotated[
        Path | None, typer.Option("--out", help="File to write (default: print it).")
    ] = None,
    data: DataOption = DEFAULT_DATA,
) -> None:
    """The log's head now (entries, last id and MAC, folder id, time), MACed with the audit
    key: keep it apart from the data, and later `audit verify --against` it."""
    with engine_for(data, False) as engine:
        # Logged first, so that the checkpoint covers its own entry.
        engine.audit(cli_actor(), "cli audit checkpoint", str(out_file or "-"), {})
        checkpoint = engine.audit_checkpoint()
    if out_file is None:
        print(checkpoint.to_json())
    else:
        out_file.write_text(checkpoint.to_json() + "\n")
        out.print(
            f"audit checkpoint at entry {checkpoint.last_id} written to {out_file}; keep it "
            "apart from the data folder",
            highlight=False,
        )


@audit_app.command("export")
def audit_export(
    out_file: Annotated[Path, typer.Option("--out", help="JSON lines file to write.")],
    data: DataOption = DEFAULT_DATA,
) -> None:
    """Write the audit log as JSON lines, one entry a line, with its chain hashes."""
    with engine_for(data, False) as engine:
        entries = engine.audit_entries()
        engine.audit(cli_actor(), "cli audit export", str(out_file), {})
    with out_file.open("w") as sink:
        for entry in entries:
            sink.write(json.dumps(to_jsonable(entry), sort_keys=True) + "\n")
    out.print(f"{len(entries)} audit entries written to {out_file}")


# --- collections and their legal basis -------------------------------------------------------

BasisOption = Annotated[LegalBasis, typer.Option("--basis", help="Legal basis of the processing.")]
JurisdictionsOption = Annotated[
    list[str],
    typer.Option(
        "--jurisdiction",
        "-j",
        help="Jurisdiction the data concerns (ISO 3166, e.g. GB, US-IL, EU); repeat for several.",
    ),
]
PurposeOption = Annotated[str, typer.Option("--purpose", help="Why the collection is held.")]
RetentionOption = Annotated[
    int,
    typer.Option(
        "--retention-days",
        min=1,
        max=MAX_RETENTION_DAYS,
        help="Days data is kept after ingest (at most 36525: 100 years).",
    ),
]
BasisTextOption = Annotated[
    str | None, typer.Option("--basis-text", help="What the basis is (required for 'other').")
]
SealLocationsOption = Annotated[
    bool,
    typer.Option(
        "--seal-locations/--plain-locations",
        help="Seal the images' file paths and URLs (they often name the person).",
    ),
]


@collection_app.command("create")
def collection_create(
    name: Annotated[str, typer.Argument(help="The collection's name.")],
    basis: BasisOption,
    jurisdiction: JurisdictionsOption,
    purpose: PurposeOption,
    retention_days: RetentionOption,
    basis_text: BasisTextOption = None,
    seal_locations: SealLocationsOption = False,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Create a collection with its legal basis, jurisdictions, purpose and retention."""
    policy_args = (basis.value, jurisdiction, purpose, retention_days, basis_text, seal_locations)
    declare_collection(data, json_output, name, policy_args, create=True)


@collection_app.command("set-policy")
def collection_set_policy(
    name: Annotated[str, typer.Argument(help="The collection's name.")],
    basis: BasisOption,
    jurisdiction: JurisdictionsOption,
    purpose: PurposeOption,
    retention_days: RetentionOption,
    basis_text: BasisTextOption = None,
    seal_locations: SealLocationsOption = False,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Declare or change a collection's legal basis, jurisdictions, purpose and retention."""
    policy_args = (basis.value, jurisdiction, purpose, retention_days, basis_text, seal_locations)
    declare_collection(data, json_output, name, policy_args, create=False)


def declare_collection(
    data: Path,
    json_output: bool,
    name: str,
    policy_args: tuple[str, list[str], str, int, str | None, bool],
    *,
    create: bool,
) -> None:
    """Record a collection's policy (a new collection, or an existing one's), logged."""
    with engine_for(data, json_output) as engine:
        policy = CollectionPolicy.parse(*policy_args)
        if create:
            engine.create_collection(name, policy)
        else:
            engine.set_collection_policy(name, policy)
        action = "cli collection create" if create else "cli collection set-policy"
        engine.audit(cli_actor(), action, name, to_jsonable(policy))
    if json_output:
        emit_json({"name": name, "policy": policy})
    else:
        done = "created" if create else "policy recorded"
        out.print(f"collection {name!r} {done} ({policy.basis.value}, {policy.purpose})")


@collection_app.command("list")
def collection_list(data: DataOption = DEFAULT_DATA, json_output: JsonOption = False) -> None:
    """Every collection with its legal basis, jurisdictions, purpose and retention."""
    with engine_for(data, json_output) as engine:
        policies = engine.collection_policies()
    if json_output:
        emit_json(policies)
        return
    table = Table("name", "basis", "jurisdictions", "purpose", "retention days")
    for name, policy in policies.items():
        if policy is None:
            table.add_row(name, "[red]none: ingest refused[/]", "", "", "")
        else:
            basis = policy.basis.value + (f" ({policy.basis_text})" if policy.basis_text else "")
            table.add_row(
                name, basis, ",".join(policy.jurisdictions), policy.purpose,
                str(policy.retention_days),
            )  # fmt: skip
    out.print(table)


# --- consent registry ---------------------------------------------------------------------


@consent_app.command("add")
def consent_add(
    subject: Annotated[str, typer.Option("--subject", help="Your reference for the subject.")],
    purpose: Annotated[str, typer.Option("--purpose", help="What they consented to.")],
    scope: Annotated[
        list[str], typer.Option("--scope", help="Collection the consent covers; repeatable.")
    ],
    evidence: Annotated[
        str, typer.Option("--evidence", help="Where the signed consent is kept (reference).")
    ],
    given_at: Annotated[
        str | None, typer.Option("--given-at", help="When it was given (default: now).")
    ] = None,
    expires_at: Annotated[
        str | None, typer.Option("--expires-at", help="When it lapses (default: never).")
    ] = None,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Record a subject's consent (needed to enrol them in a consent collection)."""
    with engine_for(data, json_output) as engine:
        if not subject.strip() or not evidence.strip() or len(purpose.strip()) < 3:
            raise InvalidArgumentError("a consent needs a subject, a purpose and its evidence")
        consent = engine.add_consent(
            subject_ref=subject.strip(),
            purpose=purpose.strip(),
            scope=scope,
            given_at=parse_when(given_at, "--given-at") or datetime.now(UTC),
            expires_at=parse_when(expires_at, "--expires-at"),
            evidence_ref=evidence.strip(),
        )
        engine.audit(cli_actor(), "consent add", f"consent {consent.id}", {"scope": scope})
    if json_output:
        emit_json(consent)
    else:
        out.print(f"consent {consent.id} recorded for {consent.subject_ref!r}")


@consent_app.command("list")
def consent_list(data: DataOption = DEFAULT_DATA, json_output: JsonOption = False) -> None:
    """Every consent record and whether it is valid now."""
    with engine_for(data, json_output) as engine:
        consents = engine.consents()
    if json_output:
        emit_json(consents)
        return
    now = datetime.now(UTC)
    table = Table("id", "subject", "scope", "given", "expires", "person", "state")
    for c in consents:
        state = "withdrawn" if c.withdrawn_at else ("valid" if c.valid_at(now) else "lapsed")
        table.add_row(
            str(c.id), c.subject_ref, ",".join(c.scope), c.given_at.date().isoformat(),
            c.expires_at.date().isoformat() if c.expires_at else "-",
            str(c.person_id or "-"), state,
        )  # fmt: skip
    out.print(table)


@consent_app.command("withdraw")
def consent_withdraw(
    consent_id: Annotated[int, typer.Argument(help="The consent record's id.")],
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Withdraw a consent: every face enrolled under it is erased (store, index, copies)."""
    with engine_for(data, json_output) as engine:
        erased = engine.withdraw_consent(consent_id, cli_actor())
    if json_output:
        emit_json({"faces_erased": erased.face_ids, "images_erased": erased.image_ids})
    else:
        out.print(
            f"consent {consent_id} withdrawn; {len(erased.face_ids)} face(s) and "
            f"{len(erased.image_ids)} image(s) erased"
        )


# --- data subject requests ----------------------------------------------------------------

RefOption = Annotated[str, typer.Option("--ref", help="The request's reference (logged).")]


PhotosArgument = Annotated[
    list[Path], typer.Argument(help="Photos of the requester (several find more of them).")
]


def _print_review(opened: RequestReview) -> None:
    request, rule = opened.request, opened.rule
    out.print(
        f"{request.kind} request {request.id} ({request.request_ref}): "
        f"{len(opened.candidates)} candidate face(s) to review",
        highlight=False,
    )
    if rule is not None:
        out.print(
            f"  rule: similarity >= {rule.threshold:.4f} to any of {rule.photos} photo(s); at "
            f"{rule.gallery_faces:,} faces held it is expected to propose "
            f"{rule.expected_false_candidates:.3g} stranger(s)",
            highlight=False,
        )
    for face in opened.candidates:
        out.print(
            f"  face {face.face_id} ({face.similarity:.3f}, {face.decision}) in "
            f"{face.collection} [{face.legal_basis}, {face.retention_days} days]: "
            f"{face.image_location}",
            highlight=False,
            soft_wrap=True,
        )
    if request.status == "pending":
        out.print(
            f"review each face (facelens subject review {request.id} --crops DIR), then confirm "
            f"those that are the requester's: facelens subject confirm {request.id} --face ID ..."
        )


@subject_app.command("access")
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
        _print_review(opened)


@subject_app.command("erase")
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
        _print_review(opened)


@subject_app.command("review")
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
        _print_review(opened)


@subject_app.command("confirm")
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


@subject_app.command("report")
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
    out.print(
        f"request {report.request.id} ({report.request.request_ref}): {len(report.faces)} "
        "face(s) held confirmed as the requester's",
        highlight=False,
    )
    for face in report.faces:
        out.print(
            f"  face {face.face_id} ({face.similarity:.3f}) in {face.collection} "
            f"[{face.legal_basis}, {face.retention_days} days]: {face.image_location}",
            highlight=False,
            soft_wrap=True,
        )
    if out_file is not None:
        out.print(f"report written to {out_file}")


@subject_app.command("list")
def subject_list(data: DataOption = DEFAULT_DATA, json_output: JsonOption = False) -> None:
    """Every access and erasure request and its outcome."""
    with engine_for(data, json_output) as engine:
        requests = engine.subject_requests()
    if json_output:
        emit_json(requests)
        return
    table = Table("id", "kind", "ref", "status", "found", "erased", "by", "confirmed by")
    for r in requests:
        table.add_row(
            str(r.id), r.kind, r.request_ref, r.status, str(r.faces_found), str(r.faces_erased),
            r.created_by, r.confirmed_by or "-",
        )  # fmt: skip
    out.print(table)


# --- retention, keys, reports -------------------------------------------------------------


@retention_app.command("run")
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


@keys_app.command("create")
def keys_create(
    path: Annotated[Path, typer.Argument(help="Key file to write (must not exist).")],
) -> None:
    """Write a new template key file (point FACELENS_TEMPLATE_KEY_FILE at it)."""
    from facelens.security.crypto import generate_key, write_key_file

    if path.exists():
        err.print(f"[bold red]error:[/] {path} exists; a key is never overwritten")
        raise typer.Exit(EXIT_USAGE)
    write_key_file(path, generate_key())
    out.print(f"template key written to {path} (readable by you only); keep a copy apart")


@keys_app.command("rotate")
def keys_rotate(data: DataOption = DEFAULT_DATA, json_output: JsonOption = False) -> None:
    """Re-seal every template with a new key, written to the data folder's own key file (a
    key file other folders share is left to them). The audit key is not rotated."""
    with engine_for(data, json_output) as engine:
        rotation = engine.rotate_key()
        engine.audit(cli_actor(), "keys rotate", "template key", {"key_id": rotation.key_id})
    if json_output:
        emit_json(rotation)
    elif rotation.shared_key_left is None:
        out.print(
            f"templates re-sealed with the new key {rotation.key_id} in {rotation.key_file}; "
            "the old key is gone",
            highlight=False,
        )
    else:
        out.print(
            f"templates re-sealed with the new key {rotation.key_id} in {rotation.key_file}; "
            f"the shared key file {rotation.shared_key_left} is left in place for the data "
            "folders still using it (the old key is only erased once none does)",
            highlight=False,
            soft_wrap=True,
        )


@report_app.command("transparency")
def report_transparency(
    since: Annotated[str, typer.Option("--since", help="Start date, YYYY-MM-DD.")],
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Counts since DATE: searches by purpose, access and erasure requests and their outcomes,
    retention deletions, refusals by rule."""
    with engine_for(data, json_output) as engine:
        start = parse_when(since, "--since")
        assert start is not None
        report = engine.transparency_report(start)
        engine.audit(cli_actor(), "report transparency", since, {})
    if json_output:
        emit_json(report)
        return
    table = Table("what", "count")
    table.add_row("searches", str(report.searches))
    for purpose, n in report.searches_by_purpose.items():
        table.add_row(f"  purpose: {purpose}", str(n))
    for kind, outcomes in (
        ("access", report.access_requests),
        ("erasure", report.erasure_requests),
    ):
        for status, n in outcomes.items():
            table.add_row(f"{kind} requests {status}", str(n))
    table.add_row("faces erased on request", str(report.faces_erased_on_request))
    table.add_row("consent withdrawals", str(report.consent_withdrawals))
    table.add_row("retention images destroyed", str(report.retention_images_deleted))
    table.add_row("retention faces destroyed", str(report.retention_faces_deleted))
    for rule, n in report.refusals_by_rule.items():
        table.add_row(f"refused: {rule}", str(n))
    out.print(f"transparency report since {since}")
    out.print(table)


# --- eval ---------------------------------------------------------------------------------


@eval_app.command("lfw")
def eval_lfw(
    root: Annotated[Path, typer.Option("--root", help="The LFW folder (pairs.txt, images/).")],
    protocol: Annotated[
        list[str] | None,
        typer.Option(
            "--protocol", help="view1, view2 or identification; repeat for several (default: all)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the JSON, plots and HTML.")] = Path(
        "eval-lfw"
    ),
    groups: Annotated[
        Path | None, typer.Option("--groups", help="CSV image,group for a per-group breakdown.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: one per core).")
    ] = None,
    cache: Annotated[
        Path | None,
        typer.Option(
            help="Embedding cache file (default: ~/.cache/facelens/eval-embeddings.sqlite)."
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Run facelens's own pipeline on LFW: verification (View 1, View 2), open-set 1:N
    identification and, given a CSV, error rates per group."""
    from facelens.evaluation.report import split_curves, write_report
    from facelens.evaluation.run import PROTOCOLS, EvalOptions, evaluate_lfw

    settings = Settings()
    options = EvalOptions(
        root=root,
        protocols=protocol or list(PROTOCOLS),
        workers=workers or default_workers(settings),
        cache_path=cache or Path.home() / ".cache" / "facelens" / "eval-embeddings.sqlite",
        groups_csv=groups,
    )
    try:
        with progress_bar(disable=json_output) as progress:
            tasks: dict[str, TaskID] = {}

            def advance(label: str, done: int, total: int) -> None:
                if label not in tasks:
                    tasks[label] = progress.add_task(f"embed {label}", total=total)
                progress.update(tasks[label], completed=done, total=total)

            result = evaluate_lfw(settings, options, advance)
    except FacelensError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(exit_code_for(exc)) from None
    written = write_report(result, out)
    figures, _ = split_curves(result)
    if json_output:
        print(json.dumps(figures, indent=2))
        return
    print_eval_summary(figures)
    out.mkdir(parents=True, exist_ok=True)
    err.print(f"wrote {', '.join(str(p) for p in written)}")


# --- demo ---------------------------------------------------------------------------------


#: The demo's collection: public test photos shipped with face_recognition 1.3.0.
DEMO_POLICY = CollectionPolicy(
    basis=LegalBasis.OTHER,
    basis_text="demonstration on the public sample photos of face_recognition 1.3.0",
    jurisdictions=["US"],
    purpose="show how facelens works",
    retention_days=30,
)


@app.command()
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


def main() -> None:
    settings = settings_or_exit()
    logging.basicConfig(  # Rich shows the time and level itself: the message alone
        level=settings.log_level,
        format="%(name)s: %(message)s",
        handlers=[RichHandler(console=err, show_path=False)],
    )
    with interrupt_exits():
        app()


if __name__ == "__main__":
    main()
