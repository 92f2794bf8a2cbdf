"""``facelens collection``: collections and their legal basis, declared before ingest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facelens.cli.options import DEFAULT_DATA, DataOption, JsonOption, cli_actor, engine_for
from facelens.cli.render import emit_json, out, print_collections
from facelens.privacy.policy import MAX_RETENTION_DAYS, CollectionPolicy, LegalBasis
from facelens.types import to_jsonable

app = typer.Typer(
    help="Collections and their legal basis (declared before anything is ingested).",
    no_args_is_help=True,
)

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


@app.command("create")
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


@app.command("set-policy")
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


@app.command("list")
def collection_list(data: DataOption = DEFAULT_DATA, json_output: JsonOption = False) -> None:
    """Every collection with its legal basis, jurisdictions, purpose and retention."""
    with engine_for(data, json_output) as engine:
        policies = engine.collection_policies()
    if json_output:
        emit_json(policies)
    else:
        print_collections(policies)
