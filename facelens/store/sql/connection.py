"""Opening the SQL database: the Alembic migrations, SQLite's settings, and the errors for a
database that is damaged or missing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DatabaseError

from facelens.config import Settings
from facelens.errors import StoreDamagedError
from facelens.security.keys import keys_of_data_folder

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent.parent / "migrations"
STORE_FILE = "facelens.db"
#: The newest migration's revision. A store at it is opened without Alembic, which costs
#: about 0.13 s of every start-up; a test holds it to Alembic's head.
HEAD_REVISION = "0011"


def alembic_config() -> Config:
    from alembic.config import Config  # Alembic loads to migrate only (HEAD_REVISION)

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def schema_pending(engine: Engine) -> bool:
    """Whether the schema is behind the newest revision (a new database is too)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return True
        revisions = connection.execute(text("SELECT version_num FROM alembic_version"))
        return list(revisions.scalars()) != [HEAD_REVISION]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")  # needed for ON DELETE CASCADE
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the ingest writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted rows are overwritten with zeros, not left in free pages: erasure means gone.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _damaged(url: str, exc: DatabaseError) -> StoreDamagedError:
    where = url.removeprefix("sqlite:///")
    if "locked" in str(exc.orig or exc):
        return StoreDamagedError(
            f"the store {where} is locked by another program ({exc.orig}); close it and retry"
        )
    return StoreDamagedError(
        f"the store {where} is not a readable facelens database ({exc.orig}); restore "
        "facelens.db from a backup (the index is derived data: it is rebuilt from the store), "
        "or run `facelens doctor` for details"
    )


def _evidence_of_data(settings: Settings) -> list[str]:
    """What in the data folder shows that it held data: then a missing store is lost, not
    new."""
    data = settings.data_dir
    found = []
    index = data / "index"
    if index.is_dir() and any(p.is_file() and p.stat().st_size for p in index.iterdir()):
        found.append(f"index files in {index}")
    wal = data / (STORE_FILE + "-wal")
    if wal.is_file() and wal.stat().st_size:
        found.append(f"the store's write-ahead log {wal}")
    if (data / STORE_FILE).is_file():
        # An emptied store with the folder's keys. (Keys alone, with no store file, are left by
        # a data folder deleted on purpose: a new one in its place is new.)
        found += [f"its keys in {path}" for path in keys_of_data_folder(settings)]
    return found
