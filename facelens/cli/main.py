"""The ``facelens`` command: the root app, its commands and groups, and ``main()``. Every
command takes ``--data DIR`` (or ``FACELENS_DATA``); the commands live in
``facelens.cli.commands``, exit codes in ``facelens.cli.exit_codes``."""

from __future__ import annotations

import logging

import typer
from rich.logging import RichHandler

from facelens.cli.commands import (
    accounts,
    audit,
    collections,
    consent,
    data,
    evaluation,
    index,
    ingest,
    keys,
    people,
    persons,
    reindex,
    reports,
    retention,
    search,
    serve,
    subjects,
)
from facelens.cli.exit_codes import (
    EXIT_AUDIT_TAMPERED,
    EXIT_BAD_IMAGE,
    EXIT_IN_USE,
    EXIT_INGEST_FAILURES,
    EXIT_MODEL_MISMATCH,
    EXIT_NO_FACE,
    EXIT_NOT_FOUND,
    EXIT_OTHER,
    EXIT_REFUSED,
    EXIT_STORE,
    EXIT_UNEXPECTED,
    EXIT_UNHEALTHY,
    EXIT_USAGE,
    exit_status,
    exit_without_teardown,
    interrupt_exits,
    settings_or_exit,
)
from facelens.cli.render import err

# The exit codes stay importable from here, where callers have always found them.
__all__ = [
    "EXIT_AUDIT_TAMPERED",
    "EXIT_BAD_IMAGE",
    "EXIT_INGEST_FAILURES",
    "EXIT_IN_USE",
    "EXIT_MODEL_MISMATCH",
    "EXIT_NOT_FOUND",
    "EXIT_NO_FACE",
    "EXIT_OTHER",
    "EXIT_REFUSED",
    "EXIT_STORE",
    "EXIT_UNEXPECTED",
    "EXIT_UNHEALTHY",
    "EXIT_USAGE",
    "app",
    "main",
]

app = typer.Typer(
    help="facelens: find every face of a person in the image collections you hold.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# In this order --help lists them: the top-level commands, then the groups.
ingest.register(app)
search.register(app)
data.register(app)
reindex.register(app)
serve.register(app)
app.add_typer(persons.app, name="person")
app.add_typer(people.app, name="people")
app.add_typer(index.app, name="index")
app.add_typer(evaluation.app, name="eval")
app.add_typer(accounts.app, name="account")
app.add_typer(audit.app, name="audit")
app.add_typer(collections.app, name="collection")
app.add_typer(consent.app, name="consent")
app.add_typer(subjects.app, name="subject")
app.add_typer(retention.app, name="retention")
app.add_typer(keys.app, name="keys")
app.add_typer(reports.app, name="report")


def main() -> None:
    settings = settings_or_exit()
    logging.basicConfig(  # Rich shows the time and level itself: the message alone
        level=settings.log_level,
        format="%(name)s: %(message)s",
        handlers=[RichHandler(console=err, show_path=False)],
    )
    try:
        with interrupt_exits():
            app()  # ends in SystemExit, as every Click command does
        status = 0
    except SystemExit as done:
        status = exit_status(done.code)
    exit_without_teardown(status)


if __name__ == "__main__":
    main()
