"""``facelens keys``: the template key (encryption at rest)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facelens.cli.exit_codes import EXIT_USAGE
from facelens.cli.options import DEFAULT_DATA, DataOption, JsonOption, cli_actor, engine_for
from facelens.cli.render import emit_json, err, out

app = typer.Typer(help="The template key (encryption at rest).", no_args_is_help=True)


@app.command("create")
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


@app.command("rotate")
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
