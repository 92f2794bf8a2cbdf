"""Alembic environment. facelens runs migrations itself (``facelens.store.migrate``) and hands
the open connection in through ``config.attributes``; nothing is read from alembic.ini URLs."""

from __future__ import annotations

from alembic import context

from facelens.store.schema import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
)
with context.begin_transaction():
    context.run_migrations()
