"""A throwaway PostgreSQL server for the tests: ``initdb`` into a temporary folder, ``postgres``
on a free 127.0.0.1 port (its socket in that folder too), stopped and removed afterwards.

PostgreSQL's binaries come from Debian's ``postgresql-15`` (``scripts/install-postgres.sh``
installs it when missing). ``initdb`` and ``postgres`` refuse to run as root (a server run as
root could be made to write anywhere), so as root they run as ``nobody`` through
``runuser -u nobody``: the folder is made in ``/tmp`` (not pytest's 0700 root-owned temporary
folder, which ``nobody`` cannot enter) and handed to that user. Durability is switched off
(``fsync=off`` and the like): the server lives for one test session, and starts in a second or
two.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

#: The superuser the server is initialised with (trust authentication, local only).
USER = "facelens"
#: Where Debian's packages put each major version's binaries; the newest found is used.
BIN_GLOB = "/usr/lib/postgresql/*/bin"
#: The user the server runs as when the tests run as root.
UNPRIVILEGED = "nobody"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's binaries are not installed, or the server would not start."""


def binaries() -> Path:
    """The folder holding ``initdb`` and ``postgres`` (``FACELENS_PG_BIN`` overrides)."""
    override = os.environ.get("FACELENS_PG_BIN")
    candidates = [Path(override)] if override else []
    candidates += sorted(
        (Path(p) for p in Path("/").glob(BIN_GLOB.lstrip("/"))),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "postgres").is_file():
            return folder
    raise PostgresUnavailable(
        "PostgreSQL's initdb and postgres were not found (looked in FACELENS_PG_BIN, "
        f"{BIN_GLOB} and PATH): run scripts/install-postgres.sh (apt-get install postgresql-15)"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", UNPRIVILEGED, "--", *command]


@dataclass(frozen=True)
class PostgresServer:
    """A running server: ``url(dbname)`` is an SQLAlchemy URL for one of its databases."""

    host: str
    port: int
    folder: Path

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{USER}@{self.host}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host=self.host, port=self.port, user=USER, dbname=dbname, autocommit=True
        )

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database (a copy of ``template`` when given); returns its URL."""
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement = sql.SQL("{} TEMPLATE {} STRATEGY FILE_COPY").format(
                statement, sql.Identifier(template)
            )
        with self.connect() as connection:
            connection.execute(statement)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.connect() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _wait_ready(server: PostgresServer, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise PostgresUnavailable(f"postgres exited at start: {log.read_text()[-2000:]}")
        try:
            with server.connect():
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise PostgresUnavailable(
                    f"postgres did not accept connections in 30 s: {log.read_text()[-2000:]}"
                ) from None
            time.sleep(0.05)


def _stop(folder: Path, process: subprocess.Popen[bytes]) -> None:
    """Fast shutdown (SIGINT to the postmaster, whose pid is in ``postmaster.pid``: through
    ``runuser`` the process started is not the server itself)."""
    pid_file = folder / "data" / "postmaster.pid"
    if pid_file.is_file():
        with suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a throwaway server; yields it running, then stops it and removes its folder."""
    bin_dir = binaries()
    folder = Path(tempfile.mkdtemp(prefix="facelens-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(folder, UNPRIVILEGED)
        data = folder / "data"
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust"]
        init = subprocess.run(
            _as_server_user([*initdb, "--encoding=UTF8", "--locale=C", "--no-sync"]),
            capture_output=True,
            text=True,
        )
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {init.stderr or init.stdout}")
        server = PostgresServer("127.0.0.1", _free_port(), folder)
        log = folder / "postgres.log"
        settings = {
            "listen_addresses": server.host,
            "port": str(server.port),
            "unix_socket_directories": str(folder),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "100",
            "shared_buffers": "32MB",
        }
        arguments = [a for k, v in settings.items() for a in ("-c", f"{k}={v}")]
        with open(log, "wb") as out:
            process = subprocess.Popen(
                _as_server_user([str(bin_dir / "postgres"), "-D", str(data), *arguments]),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_ready(server, process, log)
            yield server
        finally:
            _stop(folder, process)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
