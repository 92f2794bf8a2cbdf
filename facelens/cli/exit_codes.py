"""The command line's exit codes, and the one place facelens errors become them.

Exit codes (stable, documented in the README):
0 ok; 1 unexpected error; 2 usage error (bad option or argument); 3 something named does not
exist; 4 an input image cannot be used; 5 no usable face; 6 embedding model mismatch; 7 any
other facelens error; 8 an ingest, reindex or batch search finished but some files failed
(or, in a batch search, had no usable face; listed in the summary); 9 the audit log was
tampered with; 10 refused by a lawful-processing rule (no legal basis, no valid consent,
jurisdiction, suppression, a reindex opt-outs forbid); 11 ``doctor`` found problems it did
not repair; 12 the data folder is in use by another process (key rotation, index rebuild, a
reindex's switch); 13 the store (facelens.db) is missing or damaged; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import NoReturn

import typer
from pydantic import ValidationError

from facelens.cli.render import err
from facelens.config import Settings
from facelens.errors import (
    DataFolderInUseError,
    FacelensError,
    ImageError,
    InvalidArgumentError,
    ModelMismatchError,
    NoFaceFoundError,
    NotFoundError,
    RefusedError,
    StoreError,
)

EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_BAD_IMAGE = 4
EXIT_NO_FACE = 5
EXIT_MODEL_MISMATCH = 6
EXIT_OTHER = 7
EXIT_INGEST_FAILURES = 8
EXIT_AUDIT_TAMPERED = 9
EXIT_REFUSED = 10
EXIT_UNHEALTHY = 11
EXIT_IN_USE = 12
EXIT_STORE = 13
EXIT_INTERRUPTED = 130

#: First match wins: the more specific classes come before the ones they derive from.
_EXIT_CODES: list[tuple[type[FacelensError], int]] = [
    (RefusedError, EXIT_REFUSED),
    (DataFolderInUseError, EXIT_IN_USE),
    (StoreError, EXIT_STORE),
    (InvalidArgumentError, EXIT_USAGE),
    (NotFoundError, EXIT_NOT_FOUND),
    (ImageError, EXIT_BAD_IMAGE),
    (NoFaceFoundError, EXIT_NO_FACE),
    (ModelMismatchError, EXIT_MODEL_MISMATCH),
]


def exit_code_for(error: FacelensError) -> int:
    for cls, code in _EXIT_CODES:
        if isinstance(error, cls):
            return code
    return EXIT_OTHER


def fail(exc: FacelensError, json_output: bool) -> NoReturn:
    """Print a facelens error and exit with its code."""
    if json_output:
        print(json.dumps({"error": {"code": exc.code, "message": str(exc)}}))
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(exit_code_for(exc)) from None


def settings_or_exit() -> Settings:
    """The settings from the environment; an invalid FACELENS_* variable is a usage error."""
    try:
        return Settings()
    except ValidationError as exc:
        err.print(f"[bold red]error:[/] a FACELENS_* environment variable is invalid:\n{exc}")
        sys.exit(EXIT_USAGE)


@contextmanager
def interrupt_exits() -> Iterator[None]:
    """Ctrl-C ends the command with a hint instead of a traceback (ingests resume)."""
    try:
        yield
    except KeyboardInterrupt:
        err.print("interrupted; rerun the same command to resume")
        sys.exit(EXIT_INTERRUPTED)


def exit_status(code: object) -> int:
    """The process's exit status for ``SystemExit(code)``, as the interpreter would make it: a
    message is printed and means 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def exit_without_teardown(status: int) -> NoReturn:
    """End the process as ``sys.exit(status)`` does, less the interpreter's teardown: freeing
    every module's objects took 0.4 s after ``facelens search`` had answered (3 s in all at 10
    million faces). What matters of a normal exit runs first: the exit handlers (logging's
    flush among them) and the flush of the standard streams. A thread still at work gets a
    normal exit, which waits for it."""
    main = threading.main_thread()
    if any(t is not main and t.is_alive() and not t.daemon for t in threading.enumerate()):
        sys.exit(status)
    atexit._run_exitfuncs()  # the interpreter's own first step of an exit
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed pipe: nothing more can be said
            stream.flush()
    os._exit(status)
