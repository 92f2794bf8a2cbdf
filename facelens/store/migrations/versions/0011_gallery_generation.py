"""The gallery's generation: a number the database itself raises whenever the set of faces or
their templates changes (a face added, deleted, accepted or rejected, re-embedded), so that
an index can tell in one read whether it still holds what the store holds, instead of
reading every face id when a data folder opens.

Triggers, not code: every path that changes ``faces`` (cascades from a deleted image or
collection included) raises it, including paths written later.

Revision ID: 0011
Revises: 0010
Create Date: 2027-02-10
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

KEY = "gallery_generation"
BUMP = f"UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = '{KEY}'"
WATCHED = "status, model_id, embedding"
#: A collection deleted moves it too, with no face in it: a search naming it must fail.
TRIGGERS = [
    ("faces", "insert", "INSERT"),
    ("faces", "delete", "DELETE"),
    ("faces", "update", f"UPDATE OF {WATCHED}"),
    ("collections", "delete", "DELETE"),
]


def upgrade() -> None:
    op.execute(f"INSERT INTO meta (key, value) VALUES ('{KEY}', '0')")
    if op.get_bind().dialect.name == "postgresql":
        # One bump per statement: a bulk insert of a batch of faces raises it once.
        op.execute(
            "CREATE FUNCTION facelens_bump_gallery_generation() RETURNS trigger AS $$ "
            "BEGIN UPDATE meta SET value = (value::bigint + 1)::text "
            f"WHERE key = '{KEY}'; RETURN NULL; END $$ LANGUAGE plpgsql"
        )
        for table, name, event in TRIGGERS:
            op.execute(
                f"CREATE TRIGGER {table}_generation_{name} AFTER {event} ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION facelens_bump_gallery_generation()"
            )
        return
    for table, name, event in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {table}_generation_{name} AFTER {event} ON {table} BEGIN {BUMP}; END"
        )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, name, _ in TRIGGERS:
        op.execute(
            f"DROP TRIGGER {table}_generation_{name}" + (f" ON {table}" if postgresql else "")
        )
    if postgresql:
        op.execute("DROP FUNCTION facelens_bump_gallery_generation()")
    op.execute(f"DELETE FROM meta WHERE key = '{KEY}'")
