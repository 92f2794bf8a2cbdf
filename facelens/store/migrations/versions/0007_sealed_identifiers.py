"""Identifying data sealed at rest: person names (with a blind index), face landmarks, and
image locations in collections that ask for it.

Sealing needs the template key, which a migration never has: this adds the columns (and lets
landmarks be NULL); the store seals what is still plain when it is opened with its key
(``SqlStore.seal_identifying_data``, called by the engine on every open).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Columns added in place, never a rebuild of collections, images or persons: on SQLite
    # dropping a parent table deletes its rows first, which would cascade to the faces.
    op.add_column(
        "collections",
        sa.Column("seal_locations", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("images", sa.Column("location_sealed", sa.LargeBinary(), nullable=True))
    op.add_column("images", sa.Column("location_index", sa.String(64), nullable=True))
    op.create_index("ix_images_location_index", "images", ["location_index"])
    op.add_column("persons", sa.Column("name_sealed", sa.LargeBinary(), nullable=True))
    # The faces table is rebuilt (SQLite cannot drop NOT NULL in place): keep AUTOINCREMENT
    # and the highest id ever given, as 0005 does, so a deleted face's id is never reused.
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    last_id = None
    if sqlite:
        last_id = bind.execute(
            sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'faces'")
        ).scalar()
    with op.batch_alter_table("faces", table_kwargs={"sqlite_autoincrement": True}) as table:
        table.alter_column("landmarks", existing_type=sa.JSON(), nullable=True)
        table.add_column(sa.Column("landmarks_sealed", sa.LargeBinary(), nullable=True))
    if sqlite and last_id is not None:
        bind.execute(
            sa.text("UPDATE sqlite_sequence SET seq = max(seq, :last) WHERE name = 'faces'"),
            {"last": last_id},
        )


def downgrade() -> None:
    # Only a database whose values are still plain can go back (sealed ones need the key).
    with op.batch_alter_table("faces", table_kwargs={"sqlite_autoincrement": True}) as table:
        table.drop_column("landmarks_sealed")
        table.alter_column("landmarks", existing_type=sa.JSON(), nullable=False)
    op.drop_column("persons", "name_sealed")
    op.drop_index("ix_images_location_index", "images")
    op.drop_column("images", "location_index")
    op.drop_column("images", "location_sealed")
    op.drop_column("collections", "seal_locations")
