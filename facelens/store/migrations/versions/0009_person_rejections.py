"""Reviewer feedback: "not this person" on a face, recorded with who and when (and its
withdrawal), so that the face is never proposed for that person again.

Revision ID: 0009
Revises: 0008
Create Date: 2027-01-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_rejections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "person_id",
            sa.Integer(),
            sa.ForeignKey("persons.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "face_id", sa.Integer(), sa.ForeignKey("faces.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("rejected_by", sa.String(200), nullable=False),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_by", sa.String(200), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_person_rejections_person_id", "person_rejections", ["person_id"])
    op.create_index("ix_person_rejections_face_id", "person_rejections", ["face_id"])


def downgrade() -> None:
    op.drop_index("ix_person_rejections_face_id", "person_rejections")
    op.drop_index("ix_person_rejections_person_id", "person_rejections")
    op.drop_table("person_rejections")
