"""Staged embeddings: faces re-embedded by another model while ``facelens reindex`` runs,
kept until every face has one and the data folder switches model at once.

Revision ID: 0008
Revises: 0007
Create Date: 2027-01-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staged_embeddings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "face_id", sa.Integer(), sa.ForeignKey("faces.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("model_id", sa.Integer(), sa.ForeignKey("models.id"), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("face_id", "model_id", name="uq_staged_embeddings_face_model"),
    )
    op.create_index("ix_staged_embeddings_face_id", "staged_embeddings", ["face_id"])
    op.create_index("ix_staged_embeddings_model_id", "staged_embeddings", ["model_id"])


def downgrade() -> None:
    op.drop_index("ix_staged_embeddings_model_id", "staged_embeddings")
    op.drop_index("ix_staged_embeddings_face_id", "staged_embeddings")
    op.drop_table("staged_embeddings")
