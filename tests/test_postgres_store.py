"""The PostgreSQL backend's own behaviour, beyond the shared contract (``tests/test_store*.py``):
the ``store_url`` setting, and the errors for a server or URL that cannot be used."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from facelens.config import Settings
from facelens.errors import StoreError, StoreUnreachableError
from facelens.security.crypto import TemplateCipher, generate_key
from facelens.store import create_store
from tests.postgres_server import USER, PostgresServer


def open_with(url: str | None, data_dir: Path, backend: str | None = None) -> None:
    settings = Settings(data_dir=data_dir, store_url=url)
    if backend is not None:
        settings = Settings(data_dir=data_dir, store_url=url, store_backend=backend)
    create_store(settings, TemplateCipher(generate_key())).close()


def test_given_a_store_url_then_the_backend_is_postgresql_and_the_url_stays_secret() -> None:
    settings = Settings(store_url="postgresql+psycopg://u:s3cret@db.example:5433/facelens")
    assert settings.store_backend == "postgresql"
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())
    assert Settings().store_backend == "sqlite", "the embedded default stays SQLite"


def test_given_a_server_that_is_not_there_then_the_error_names_it_but_not_the_password(
    tmp_path: Path,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://{USER}:s3cret@127.0.0.1:{port}/facelens"
    with pytest.raises(StoreUnreachableError, match=f"127.0.0.1:{port}/facelens") as raised:
        open_with(url, tmp_path)
    assert "s3cret" not in str(raised.value)
    assert "check that the server runs" in str(raised.value)


def test_given_a_database_that_does_not_exist_then_the_error_says_so(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    with pytest.raises(StoreUnreachableError, match='database "nowhere" does not exist'):
        open_with(postgres.url("nowhere"), tmp_path)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("not a url", "not a database URL"),
        ("mysql://u@h/db", "names the driver 'mysql'"),
        ("postgresql+psycopg2://u@h/db", "names the driver 'postgresql\\+psycopg2'"),
        ("postgresql://u@h:5432", "names no database"),
    ],
)
def test_given_a_store_url_of_the_wrong_form_then_the_error_shows_the_right_one(
    url: str, problem: str, tmp_path: Path
) -> None:
    with pytest.raises(StoreError, match=problem) as raised:
        open_with(url, tmp_path)
    assert "postgresql+psycopg://user:password@host:port/dbname" in str(raised.value)


def test_given_postgresql_without_a_url_then_the_error_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="FACELENS_STORE_URL"):
        open_with(None, tmp_path, backend="postgresql")


def test_given_a_plain_postgresql_url_then_psycopg_is_used_and_the_store_opens(
    postgres_url: str, tmp_path: Path
) -> None:
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    settings = Settings(data_dir=tmp_path, store_url=plain)
    store = create_store(settings, TemplateCipher(generate_key()))
    try:
        assert store.backend == "postgresql" and store.collection_names() == []
        store.checkpoint()  # nothing to fold on PostgreSQL, and no error
        assert store.integrity_problems() == []
    finally:
        store.close()
