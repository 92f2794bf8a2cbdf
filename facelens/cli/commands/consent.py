"""``facelens consent``: the consent registry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from facelens.cli.options import (
    DEFAULT_DATA,
    DataOption,
    JsonOption,
    cli_actor,
    engine_for,
    parse_when,
)
from facelens.cli.render import emit_json, out, print_consents
from facelens.errors import InvalidArgumentError

app = typer.Typer(help="The consent registry.", no_args_is_help=True)


@app.command("add")
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


@app.command("list")
def consent_list(data: DataOption = DEFAULT_DATA, json_output: JsonOption = False) -> None:
    """Every consent record and whether it is valid now."""
    with engine_for(data, json_output) as engine:
        consents = engine.consents()
    if json_output:
        emit_json(consents)
    else:
        print_consents(consents)


@app.command("withdraw")
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
