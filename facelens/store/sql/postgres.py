"""The store on a PostgreSQL server (``store_url``): the URL, the connection settings and the
errors. The tables, migrations and queries are the same as SQLite's.

What differs from the embedded SQLite store, on purpose:

- Erasure. SQLite runs with ``secure_delete`` (erased rows overwritten with zeros) and its log
  is checkpointed after an erasure. PostgreSQL has no analogue: an erased row is deleted (no
  query, backup taken from then on, or replica shows it), and its dead tuple stays in the data
  files until VACUUM (autovacuum, by default) marks the space free and later writes reuse it.
  ``checkpoint()`` therefore runs nothing here; an operator who must scrub the files runs
  ``VACUUM FULL`` (which rewrites the tables) and rotates the server's WAL and backups.
- Integrity. ``integrity_problems()`` has no ``PRAGMA integrity_check`` to run: the server keeps
  its own files (``pg_amcheck`` checks them) and reports nothing here.
- Concurrency. Many processes may share one server: unique constraints decide duplicates (an
  image stored twice at once is stored once), and the audit chain is appended under a
  transaction-scoped advisory lock.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError

from facelens.errors import StoreError, StoreUnreachableError

#: The driver facelens ships with (psycopg 3); ``postgresql://`` means it too.
DRIVER = "postgresql+psycopg"
URL_FORM = "postgresql+psycopg://user:password@host:port/dbname"
#: Seconds to wait for the server before giving up with an error naming it.
CONNECT_TIMEOUT_S = 10


def postgres_url(raw: str) -> URL:
    """``raw`` as an SQLAlchemy URL for psycopg 3; a wrong form is a StoreError (the message
    never repeats the URL, which may hold a password)."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise StoreError(f"store_url is not a database URL: use the form {URL_FORM}") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername=DRIVER)
    if url.drivername != DRIVER:
        raise StoreError(
            f"store_url names the driver {url.drivername!r}; facelens speaks to PostgreSQL "
            f"through psycopg 3: use the form {URL_FORM}"
        )
    if not url.database:
        raise StoreError(f"store_url names no database: use the form {URL_FORM}")
    return url


def engine_options(url: URL) -> dict[str, Any]:
    """``create_engine`` options for PostgreSQL: times in UTC (naive times bound to
    ``timestamptz`` columns are read as the session's zone), a bounded connect, and
    connections checked before use (a restarted server is reconnected to)."""
    return {
        "pool_pre_ping": True,
        "connect_args": {"connect_timeout": CONNECT_TIMEOUT_S, "options": "-c timezone=UTC"},
    }


def where(url: URL) -> str:
    """The server and database, without the password: for messages and logs."""
    return f"{url.host or 'localhost'}:{url.port or 5432}/{url.database} as user {url.username}"


def postgres_error(url: URL, exc: DatabaseError) -> StoreError:
    """The error for a server that cannot be used when opening the store."""
    reason = " ".join(str(exc.orig or exc).split())
    if url.password:
        reason = reason.replace(url.password, "***")
    if isinstance(exc, OperationalError):
        return StoreUnreachableError(
            f"cannot open the PostgreSQL store at {where(url)}; check that the server runs and "
            "accepts connections from this host, that the database exists, and store_url "
            f"({URL_FORM}). The server said: {reason}"
        )
    return StoreError(f"the PostgreSQL store at {where(url)} failed to open: {reason}")
