"""The SQL store's foundation: the engine and sessions, and the helpers every part uses."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Integer, String, cast, create_engine, event, select, update
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from facelens.errors import NotFoundError
from facelens.privacy.audit import AuditKey
from facelens.security.crypto import TemplateCipher
from facelens.store.base import MigrationGuard
from facelens.store.schema import CollectionRow, FaceRow, MetaRow, ModelRow
from facelens.store.sql.connection import _damaged, _sqlite_pragmas, migrate, schema_pending
from facelens.store.sql.rows import ACCEPTED, GENERATION_META, QUARANTINE_META
from facelens.types import ModelId


class SqlCore:
    """The database connection (migrated when opened) and the shared helpers."""

    def __init__(
        self,
        url: str,
        cipher: TemplateCipher,
        backend: str = "sqlite",
        *,
        guard: MigrationGuard | None = None,
    ) -> None:
        self.backend = backend
        self.cipher = cipher
        self._engine = create_engine(url)
        if url.startswith("sqlite"):
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
            raise _damaged(url, exc) from exc
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
        """The row id of ``model``, created on first use."""
        if model not in self._model_ids:
            found = self._known_model_id(session, model)
            if found is None:
                row = ModelRow(name=model.name, version=model.version, dim=model.dim)
                session.add(row)
                session.flush()
                found = row.id
            self._model_ids[model] = found
        return self._model_ids[model]

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
            session.merge(MetaRow(key=key, value=value))
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
        not linger in the log file."""
        if self.backend == "sqlite":
            with self._engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def integrity_problems(self) -> list[str]:
        if self.backend != "sqlite":
            return []
        try:
            with self._engine.connect() as connection:
                rows = connection.exec_driver_sql("PRAGMA integrity_check").all()
        except DatabaseError as exc:
            return [str(exc.orig or exc)]
        found = [str(r[0]) for r in rows]
        return [] if found == ["ok"] else found
