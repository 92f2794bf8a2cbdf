"""``facelens account``: accounts of the service and their API keys."""

from __future__ import annotations

from typing import Annotated

import typer

from facelens.cli.options import DEFAULT_DATA, DataOption, JsonOption, cli_actor, engine_for
from facelens.cli.render import emit_json, out
from facelens.security.accounts import Role

app = typer.Typer(help="Accounts of the service and their API keys.", no_args_is_help=True)


@app.command("create")
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
        print(key)  # plain, so that it can be copied or piped whole
