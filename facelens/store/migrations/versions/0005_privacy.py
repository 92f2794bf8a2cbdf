"""Privacy by design: legal basis per collection, consent registry, subject requests, the
suppression list, fetch provenance, account jurisdictions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("collections") as table:
        table.add_column(sa.Column("basis", sa.String(30), nullable=True))
        table.add_column(sa.Column("basis_text", sa.Text(), nullable=True))
        table.add_column(sa.Column("jurisdictions", sa.JSON(), nullable=False, server_default="[]"))
        table.add_column(sa.Column("purpose", sa.Text(), nullable=True))
        table.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))
    with op.batch_alter_table("images") as table:
        table.add_column(sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("accounts") as table:
        table.add_column(sa.Column("jurisdiction", sa.String(20), nullable=True))
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subject_ref", sa.String(200), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evidence_ref", sa.Text(), nullable=False),
        sa.Column("last_interaction_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "person_id", sa.Integer(), sa.ForeignKey("persons.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )  # fmt: skip
    op.create_index("ix_consents_person_id", "consents", ["person_id"])
    # SQLite rebuilds the table to add a foreign key: keep AUTOINCREMENT, and the highest id
    # ever given, so that a deleted face's id is never reused.
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    last_id = None
    if sqlite:
        last_id = bind.execute(
            sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'faces'")
        ).scalar()
    with op.batch_alter_table("faces", table_kwargs={"sqlite_autoincrement": True}) as table:
        table.add_column(sa.Column("consent_id", sa.Integer(), nullable=True))
        table.create_foreign_key(
            "fk_faces_consent_id", "consents", ["consent_id"], ["id"], ondelete="SET NULL"
        )
        table.create_index("ix_faces_consent_id", ["consent_id"])
    if sqlite and last_id is not None:
        bind.execute(
            sa.text("UPDATE sqlite_sequence SET seq = max(seq, :last) WHERE name = 'faces'"),
            {"last": last_id},
        )
    op.create_table(
        "subject_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("request_ref", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("faces_found", sa.Integer(), nullable=False),
        sa.Column("faces_erased", sa.Integer(), nullable=False),
        sa.Column("images_erased", sa.Integer(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.String(200), nullable=True),
        sa.Column("template", sa.LargeBinary(), nullable=True),
    )
    op.create_table(
        "suppression",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("subject_requests.id"), nullable=True),
        sa.Column("template", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("suppression")
    op.drop_table("subject_requests")
    with op.batch_alter_table("faces", table_kwargs={"sqlite_autoincrement": True}) as table:
        table.drop_index("ix_faces_consent_id")
        table.drop_constraint("fk_faces_consent_id", type_="foreignkey")
        table.drop_column("consent_id")
    op.drop_index("ix_consents_person_id", "consents")
    op.drop_table("consents")
    with op.batch_alter_table("accounts") as table:
        table.drop_column("jurisdiction")
    with op.batch_alter_table("images") as table:
        table.drop_column("fetched_at")
    with op.batch_alter_table("collections") as table:
        for column in ("retention_days", "purpose", "jurisdictions", "basis_text", "basis"):
            table.drop_column(column)
