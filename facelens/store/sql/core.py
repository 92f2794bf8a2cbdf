"""The SQL store's foundation: the engine and sessions, and the helpers every part uses."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from sqlalchemy import Integer, String, cast, create_engine, event, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DatabaseError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from facelens.errors import NotFoundError
from facelens.privacy.audit import AuditKey
from facelens.security.crypto import TemplateCipher
from facelens.store.base import MigrationGuard
from facelens.store.schema import CollectionRow, FaceRow, MetaRow, ModelRow
from facelens.store.sql.connection import _damaged, _sqlite_pragmas, migrate, schema_pending
from facelens.store.sql.postgres import engine_options, postgres_error
from facelens.store.sql.rows import ACCEPTED, GENERATION_META, QUARANTINE_META
from facelens.types import ModelId


class SqlCore:
    """The database connection (migrated when opened) and the shared helpers."""

    def __init__(
        self,
        url: str | URL,
        cipher: TemplateCipher,
        backend: str = "sqlite",
        *,
        guard: MigrationGuard | None = None,
    ) -> None:
        self.backend = backend
        self.cipher = cipher
        url = make_url(url)
        self._postgres = url.get_backend_name() == "postgresql"
        self._engine = create_engine(url, **(engine_options(url) if self._postgres else {}))
        if url.get_backend_name() == "sqlite":
            event.listen(self._engine, "connect", _sqlite_pragmas)
        try:
            if schema_pending(self._engine):
                if guard is None:
                    migrate(self._engine)
                else:
                    with guard():
                        migrate(self._engine)
        except DatabaseError as exc:
            self._engine.dispose()
            if self._postgres:
                raise postgres_error(url, exc) from exc
            raise _damaged(url.render_as_string(), exc) from exc
        self._session = sessionmaker(self._engine, expire_on_commit=False)
        self._model_ids: dict[ModelId, int] = {}
        self._audit_lock = threading.Lock()
        self.audit_key: AuditKey | None = None

    def close(self) -> None:
        self._engine.dispose()

    def _collection_id(self, session: Session, name: str) -> int:
        found = session.scalar(select(CollectionRow.id).where(CollectionRow.name == name))
        if found is None:
            raise NotFoundError(f"no collection named {name!r}")
        return found

    def _model_id(self, session: Session, model: ModelId) -> int:
        """The row id of ``model``, created on first use (by whichever of two writers racing
        to create it commits first: the other's insert fails on the unique constraint, in a
        savepoint, and it reads the winner's row)."""
        if model not in self._model_ids:
            found = self._known_model_id(session, model)
            if found is None:
                row = ModelRow(name=model.name, version=model.version, dim=model.dim)
                try:
                    with session.begin_nested():
                        session.add(row)
                except IntegrityError:
                    found = self._known_model_id(session, model)
                    if found is None:
                        raise
                else:
                    found = row.id
            self._model_ids[model] = found
        return self._model_ids[model]

    def _serialise(self, session: Session, name: str) -> None:
        """Writers of ``name`` (the audit chain) take turns until this transaction ends: a
        transaction-scoped advisory lock on PostgreSQL, where many processes may write at once.
        (SQLite has one writer at a time already, and this process's threads a lock.)"""
        if self._postgres:
            session.execute(select(func.pg_advisory_xact_lock(_lock_key(name))))

    def _upsert_meta(self, session: Session, key: str, value: str) -> None:
        """Set ``key`` in one statement (a merge would read, then insert, and two writers could
        both insert)."""
        insert = pg_insert if self._postgres else sqlite_insert
        statement = insert(MetaRow).values(key=key, value=value)
        session.execute(
            statement.on_conflict_do_update(index_elements=[MetaRow.key], set_={"value": value})
        )

    def _known_model_id(self, session: Session, model: ModelId) -> int | None:
        if model in self._model_ids:
            return self._model_ids[model]
        return session.scalar(
            select(ModelRow.id).where(
                ModelRow.name == model.name,
                ModelRow.version == model.version,
                ModelRow.dim == model.dim,
            )
        )

    def _accepted_ids_where(self, session: Session, *criteria: Any) -> list[int]:
        return list(
            session.scalars(
                select(FaceRow.id).where(FaceRow.status == ACCEPTED, *criteria).order_by(FaceRow.id)
            ).all()
        )

    def get_meta(self, key: str) -> str | None:
        with self._session() as session:
            return session.scalar(select(MetaRow.value).where(MetaRow.key == key))

    def set_meta(self, key: str, value: str) -> None:
        with self._session.begin() as session:
            self._upsert_meta(session, key, value)
            if key == QUARANTINE_META:  # a quarantined face is not indexed
                session.execute(
                    update(MetaRow)
                    .where(MetaRow.key == GENERATION_META)
                    .values(value=cast(cast(MetaRow.value, Integer) + 1, String))
                )

    def gallery_generation(self) -> int:
        return int(self.get_meta(GENERATION_META) or 0)

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the database and empty it, so that erased rows do
        not linger in the log file. Nothing on PostgreSQL: erased rows are deleted, and VACUUM
        (autovacuum) frees their space (``facelens.store.sql.postgres``)."""
        if self.backend == "sqlite":
            with self._engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def integrity_problems(self) -> list[str]:
        """SQLite's integrity check; none on PostgreSQL (the server keeps its own files)."""
        if self.backend != "sqlite":
            return []
        try:
            with self._engine.connect() as connection:
                rows = connection.exec_driver_sql("PRAGMA integrity_check").all()
        except DatabaseError as exc:
            return [str(exc.orig or exc)]
        found = [str(r[0]) for r in rows]
        return [] if found == ["ok"] else found


def _lock_key(name: str) -> int:
    """A stable 63-bit key for ``pg_advisory_xact_lock`` (Python's ``hash`` is salted)."""
    return int.from_bytes(hashlib.sha256(f"facelens:{name}".encode()).digest()[:8], "big") >> 1
