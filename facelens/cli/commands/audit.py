"""``facelens audit``: the tamper-evident audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from facelens.cli.exit_codes import EXIT_AUDIT_TAMPERED
from facelens.cli.options import DEFAULT_DATA, DataOption, JsonOption, cli_actor, engine_for
from facelens.cli.render import emit_json, out, print_audit_check
from facelens.privacy.audit import Checkpoint
from facelens.types import to_jsonable

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@app.command("verify")
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
    else:
        print_audit_check(check)
    if not check.intact:
        raise typer.Exit(EXIT_AUDIT_TAMPERED)


@app.command("checkpoint")
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


@app.command("export")
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
