"""SQLAlchemy implementation of the metadata store: SQLite (embedded, the default) or PostgreSQL.

``SqlStore`` is composed of one part per area of the contract, each in its own module:

- ``core``: the engine, sessions and migrations (``connection``), meta values, integrity;
  ``postgres``: what differs on a PostgreSQL server (URL, errors, erasure)
- ``sealing``: names, landmarks and locations sealed at rest, key rotation
- ``gallery``: collections and their legal basis, counts
- ``persons``: persons and their faces, merge and split, reviewers' "not this person"
- ``faces``: images and faces; ``templates``: embeddings and the quarantine
- ``staging``: another model's embeddings while re-indexing, and the switch to them
- ``deletion``: deleting images, faces, persons, collections
- ``privacy``: consent, subject requests, erasure and suppression, retention
- ``access``: accounts, the search log, the audit log
- ``clusters``: proposed persons (clusters of unnamed faces) and their members
"""

from __future__ import annotations

from facelens.config import Settings
from facelens.errors import StoreError, StoreMissingError
from facelens.security.crypto import TemplateCipher
from facelens.store.base import MigrationGuard, register_store
from facelens.store.sql.access import Access
from facelens.store.sql.clusters import Clusters
from facelens.store.sql.connection import (
    MIGRATIONS_DIR,
    STORE_FILE,
    _evidence_of_data,
    migrate,
    schema_pending,
)
from facelens.store.sql.faces import Faces
from facelens.store.sql.gallery import Catalogue
from facelens.store.sql.persons import PersonRecords
from facelens.store.sql.postgres import URL_FORM, postgres_url
from facelens.store.sql.privacy import Privacy
from facelens.store.sql.rows import ACCEPTED, QUARANTINE_META, REJECTED
from facelens.store.sql.staging import Staging
from facelens.store.sql.templates import Templates

__all__ = [
    "ACCEPTED",
    "MIGRATIONS_DIR",
    "QUARANTINE_META",
    "REJECTED",
    "STORE_FILE",
    "SqlStore",
    "migrate",
    "schema_pending",
]


class SqlStore(Catalogue, PersonRecords, Faces, Clusters, Templates, Staging, Privacy, Access):
    """The store on an SQLAlchemy engine; the schema is migrated with Alembic when opened."""


def _sqlite(
    settings: Settings, cipher: TemplateCipher, *, guard: MigrationGuard | None = None
) -> SqlStore:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / STORE_FILE
    if not path.is_file() or path.stat().st_size == 0:
        # SQLite opens a missing or 0-byte file as a new, empty database: the index would then
        # be cut to nothing to match it. Only a folder that never held data is new.
        evidence = _evidence_of_data(settings)
        if evidence:
            state = "empty (0 bytes)" if path.is_file() else "missing"
            raise StoreMissingError(
                f"the store {path} is {state}, but this data folder held data "
                f"({'; '.join(evidence)}); restore facelens.db from a backup. Nothing was "
                "changed: the index is derived data and is left untouched"
            )
    return SqlStore(f"sqlite:///{path}", cipher, backend="sqlite", guard=guard)


def _postgresql(
    settings: Settings, cipher: TemplateCipher, *, guard: MigrationGuard | None = None
) -> SqlStore:
    if settings.store_url is None:
        raise StoreError(
            f"store_backend is postgresql but store_url is not set: set FACELENS_STORE_URL "
            f"to {URL_FORM}"
        )
    # The data folder still holds the keys and the index; the rows live on the server.
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = postgres_url(settings.store_url.get_secret_value())
    return SqlStore(url, cipher, backend="postgresql", guard=guard)


register_store("sqlite", _sqlite)
register_store("postgresql", _postgresql)
