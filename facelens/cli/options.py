"""What every command shares: the ``--data`` and ``--json`` options, who the command line
acts as, opening the engine, and parsing dates given as options."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

import facelens
from facelens.cli.exit_codes import fail
from facelens.config import Settings
from facelens.engine import Engine
from facelens.errors import FacelensError, InvalidArgumentError, RefusedError
from facelens.types import Caller

DataOption = Annotated[
    Path,
    typer.Option(
        "--data",
        envvar="FACELENS_DATA",
        help="Folder of the store and index.",
        show_default=True,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
DEFAULT_DATA = Path("facelens-data")


def cli_actor() -> str:
    """Who the command line acts as in the logs: the operating-system user running it."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return f"cli:uid {os.getuid()}"


def cli_caller() -> Caller:
    """The command line as the engine's caller (no account: see ``Caller``)."""
    return Caller(cli_actor())


@contextmanager
def engine_for(data: Path, json_output: bool) -> Iterator[Engine]:
    """Open the engine; map every facelens error to a message and an exit code (the one place
    where the CLI does so)."""
    try:
        with facelens.open(settings=Settings(data_dir=data)) as engine:
            try:
                yield engine
            except RefusedError as exc:  # refusals are logged (once), counted by rule
                engine.record_refusal(exc, cli_caller())
                raise
    except FacelensError as exc:
        fail(exc, json_output)


@contextmanager
def engine_for_opened(engine: Engine, json_output: bool) -> Iterator[Engine]:
    """``engine_for`` for an engine already open."""
    try:
        with engine:
            yield engine
    except FacelensError as exc:
        fail(exc, json_output)


def parse_when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidArgumentError(
            f"{option}: {value!r} is not a date (YYYY-MM-DD or an ISO 8601 time)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
