"""Proposed persons: faces of one collection grouped by ``facelens people cluster``, and which
faces are in each.

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "face_clusters",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "collection_id",
            sa.Integer(),
            sa.ForeignKey("collections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_face_clusters_collection_id", "face_clusters", ["collection_id"])
    op.create_table(
        "face_cluster_members",
        sa.Column(
            "face_id",
            sa.Integer(),
            sa.ForeignKey("faces.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "cluster_id",
            sa.Integer(),
            sa.ForeignKey("face_clusters.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_face_cluster_members_cluster_id", "face_cluster_members", ["cluster_id"])


def downgrade() -> None:
    op.drop_index("ix_face_cluster_members_cluster_id", "face_cluster_members")
    op.drop_table("face_cluster_members")
    op.drop_index("ix_face_clusters_collection_id", "face_clusters")
    op.drop_table("face_clusters")
