"""Subject requests reviewed by an admin: several photos a request, the calibrated rule's
threshold, and every candidate face with the admin's decision.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subject_requests") as table:
        table.add_column(sa.Column("photos", sa.Integer(), nullable=False, server_default="1"))
        table.add_column(sa.Column("threshold", sa.Float(), nullable=True))
        table.add_column(sa.Column("expected_false_candidates", sa.Float(), nullable=True))
        table.add_column(
            sa.Column("gallery_faces", sa.Integer(), nullable=False, server_default="0")
        )
        table.add_column(
            sa.Column("faces_confirmed", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "subject_request_templates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "request_id",
            sa.Integer(),
            sa.ForeignKey("subject_requests.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("template", sa.LargeBinary(), nullable=False),
    )
    op.create_index(
        "ix_subject_request_templates_request_id", "subject_request_templates", ["request_id"]
    )
    op.create_table(
        "subject_request_candidates",
        sa.Column(
            "request_id",
            sa.Integer(),
            sa.ForeignKey("subject_requests.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("face_id", sa.Integer(), primary_key=True),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("subject_request_candidates")
    op.drop_index("ix_subject_request_templates_request_id", "subject_request_templates")
    op.drop_table("subject_request_templates")
    with op.batch_alter_table("subject_requests") as table:
        for column in (
            "faces_confirmed", "gallery_faces", "expected_false_candidates", "threshold", "photos"
        ):  # fmt: skip
            table.drop_column(column)
