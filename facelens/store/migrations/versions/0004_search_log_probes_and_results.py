"""The search log keeps each probe embedding's hash and the ids of the faces shown.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("search_log") as table:
        table.add_column(sa.Column("probe_sha256", sa.JSON(), nullable=False, server_default="[]"))
        table.add_column(
            sa.Column("result_face_ids", sa.JSON(), nullable=False, server_default="[]")
        )


def downgrade() -> None:
    with op.batch_alter_table("search_log") as table:
        table.drop_column("result_face_ids")
        table.drop_column("probe_sha256")
