"""``facelens people``: unassigned faces grouped into proposed persons, and the proposals
accepted as named persons or dismissed. (``facelens person`` manages the named persons.)"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from facelens.cli.options import DEFAULT_DATA, DataOption, JsonOption, cli_caller, engine_for
from facelens.cli.render import emit_json, out, progress_bar
from facelens.clustering import ClusterRecord, ClusterSummary

app = typer.Typer(
    help="Unassigned faces grouped into proposed persons, to accept or dismiss.",
    no_args_is_help=True,
)

CollectionOption = Annotated[
    str | None,
    typer.Option("--collection", "-c", help="Only this collection (default: each collection)."),
]


@app.command("cluster")
def people_cluster(
    collection: CollectionOption = None,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Group the faces that are no person's and in no proposal into proposed persons: they
    join a proposal from before when they fit it, or form new ones. Faces are never grouped
    across collections."""
    with (
        engine_for(data, json_output) as engine,
        progress_bar(disable=json_output) as progress,
    ):
        task = progress.add_task("cluster faces", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        summary = engine.cluster_faces(collection, caller=cli_caller(), progress=advance)
    if json_output:
        emit_json(summary)
    else:
        print_summary(summary)


@app.command("proposals")
def people_proposals(
    collection: CollectionOption = None,
    dismissed: Annotated[
        bool, typer.Option("--dismissed", help="List the dismissed proposals too.")
    ] = False,
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """The proposed persons with the ids of their faces, largest first."""
    with engine_for(data, json_output) as engine:
        found = engine.proposals(collection, status=None if dismissed else "proposed")
    found = sorted(found, key=lambda c: (-len(c.face_ids), c.cluster_id))
    if json_output:
        emit_json(found)
    else:
        print_proposals(found)


@app.command("accept")
def people_accept(
    cluster_id: Annotated[int, typer.Argument(help="The proposal's id (people proposals).")],
    name: Annotated[str, typer.Option("--name", help="The person's name.")],
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Make the proposal's faces the person NAME's (an existing person of that name takes
    them); the proposal goes."""
    with engine_for(data, json_output) as engine:
        person = engine.accept_proposal(cluster_id, name, caller=cli_caller())
    if json_output:
        emit_json(person)
    else:
        out.print(f"person {person.id} {person.name!r}: {len(person.face_ids)} face(s)")


@app.command("dismiss")
def people_dismiss(
    cluster_id: Annotated[int, typer.Argument(help="The proposal's id (people proposals).")],
    data: DataOption = DEFAULT_DATA,
    json_output: JsonOption = False,
) -> None:
    """Dismiss a proposal: it is no longer listed, and faces that fit it later join it
    rather than being proposed again."""
    with engine_for(data, json_output) as engine:
        record = engine.dismiss_proposal(cluster_id, caller=cli_caller())
    if json_output:
        emit_json(record)
    else:
        out.print(f"proposal {record.cluster_id} dismissed ({len(record.face_ids)} face(s))")


def print_summary(summary: ClusterSummary) -> None:
    out.print(
        f"{summary.clusters_proposed} new proposal(s), {summary.clusters_grown} grown; "
        f"{summary.faces_clustered} of {summary.faces_considered} face(s) clustered, "
        f"{summary.faces_left_single} left single"
    )


def print_proposals(found: list[ClusterRecord]) -> None:
    table = Table("id", "collection", "status", "faces", "face ids")
    for c in found:
        ids = ",".join(map(str, c.face_ids))
        table.add_row(str(c.cluster_id), c.collection, c.status, str(len(c.face_ids)), ids)
    out.print(table)
