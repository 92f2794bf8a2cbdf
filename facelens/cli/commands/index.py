"""``facelens index``: the vector index, derived from the store."""

from __future__ import annotations

import typer

from facelens.cli.options import DEFAULT_DATA, DataOption, JsonOption, cli_actor, engine_for
from facelens.cli.render import emit_json, out

app = typer.Typer(help="The vector index (derived from the store).", no_args_is_help=True)


@app.command("rebuild")
def index_rebuild(data: DataOption = DEFAULT_DATA, json_output: JsonOption = False) -> None:
    """Rebuild the index from the store (the source of truth)."""
    with engine_for(data, json_output) as engine:
        count = engine.rebuild_index()
        engine.audit(cli_actor(), "cli index rebuild", "index", {"faces": count})
    if json_output:
        emit_json({"faces_indexed": count})
    else:
        out.print(f"index rebuilt from the store: {count} faces")
