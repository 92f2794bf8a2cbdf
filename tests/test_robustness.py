"""Issue 12, items 1 and 2: one collection's fault never stops another's retention; folder walks
turn symlink loops and unreadable entries into per-file failures. Real engine, store and CLI."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from facelens.cli.main import EXIT_INGEST_FAILURES, EXIT_OTHER, EXIT_USAGE
from facelens.config import Settings
from facelens.engine import Engine
from facelens.errors import InvalidArgumentError
from facelens.ingest_report import IngestFailure
from facelens.pipeline.batch import discover, read_files
from facelens.privacy.policy import MAX_RETENTION_DAYS, CollectionPolicy
from facelens.privacy.retention import run_retention
from tests.conftest import PRESS_ARCHIVE, TEST_POLICY, Cli, Declare

# --- item 1: retention ----------------------------------------------------------------------


def set_retention_days(database: Path, collection: str, days: int) -> None:
    """Store a retention period as an older release let one be stored (unchecked)."""
    with sqlite3.connect(database) as connection:
        connection.execute(
            "UPDATE collections SET retention_days = ? WHERE name = ?", (days, collection)
        )


def test_given_one_collection_with_an_impossible_retention_then_the_others_still_expire(
    engine: Engine, declare: Declare, photos: Path
) -> None:
    declare(engine, "broken", "short")
    engine.ingest([photos / "biden.jpg"], "broken", workers=1)
    engine.ingest([photos / "obama.jpg"], "short", workers=1)
    set_retention_days(engine.settings.data_dir / "facelens.db", "broken", 1_000_000)

    report = run_retention(engine, now=datetime.now(UTC) + timedelta(days=31))

    assert report.by_collection == {"short": 1}, "the sound collection was still run"
    assert list(report.failures) == ["broken"]
    assert "retention" in report.failures["broken"]
    [entry] = [e for e in engine.store.audit_entries() if e.action == "retention"]
    assert entry.details["failures"] == report.failures


def test_given_the_cli_then_a_huge_retention_is_refused_and_a_stored_one_is_reported(
    tmp_path: Path,
) -> None:
    cli = Cli(tmp_path / "data")
    base = [a for a in PRESS_ARCHIVE if a not in {"--retention-days", "365"}]
    refused = cli(
        "collection", "create", "x", *base, "--retention-days", "1000000", code=EXIT_USAGE
    )
    assert "36525" in refused
    cli("collection", "create", "press", *PRESS_ARCHIVE)
    cli("collection", "create", "other", *PRESS_ARCHIVE)
    set_retention_days(tmp_path / "data" / "facelens.db", "press", 1_000_000)
    said = cli("retention", "run", code=EXIT_OTHER)
    assert "press" in said and "retention period" in said


@pytest.mark.parametrize("days", [MAX_RETENTION_DAYS + 1, 10**20])
def test_given_a_retention_past_100_years_then_the_policy_is_refused(days: int) -> None:
    with pytest.raises(InvalidArgumentError, match="at most 36525 days"):
        CollectionPolicy.parse("contract", "GB", "fraud prevention", days)
    assert CollectionPolicy.parse("contract", "GB", "archive", MAX_RETENTION_DAYS)


@pytest.mark.parametrize("code", ["ZZ-TOP", "XX", "US-ZZ", "EU-X"])
def test_given_a_code_outside_iso_3166_then_the_policy_is_refused(code: str) -> None:
    with pytest.raises(InvalidArgumentError, match="ISO 3166"):
        CollectionPolicy.parse("contract", code, "fraud prevention", 30)
    assert CollectionPolicy.parse("contract", "EU,GB,US-IL,FR-75C", "press", 30)


def test_given_a_consent_that_lapses_before_it_is_given_then_refused(engine: Engine) -> None:
    engine.create_collection("staff", TEST_POLICY)
    now = datetime.now(UTC)
    kwargs: dict[str, Any] = {
        "subject_ref": "s",
        "purpose": "door",
        "scope": ["staff"],
        "evidence_ref": "e",
    }
    with pytest.raises(InvalidArgumentError, match=r"expires .* before it was given"):
        engine.store.add_consent(**kwargs, given_at=now, expires_at=now - timedelta(days=1))
    with pytest.raises(InvalidArgumentError, match="outside the dates accepted"):
        engine.store.add_consent(**kwargs, given_at=datetime(1, 1, 1, tzinfo=UTC), expires_at=None)
    assert engine.store.consents() == []


# --- item 2: folder walks -------------------------------------------------------------------


def test_given_symlink_loops_then_ingest_lists_them_and_a_rerun_finishes(
    tmp_path: Path, photos: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(photos / "obama.jpg", folder / "obama.jpg")
    (folder / "loop.jpg").symlink_to("loop.jpg")  # points at itself
    (folder / "a.jpg").symlink_to("b.jpg")
    (folder / "b.jpg").symlink_to("a.jpg")
    (folder / "back").symlink_to(".", target_is_directory=True)  # a folder loop: not followed
    cli = Cli(tmp_path / "data")
    cli("collection", "create", "press", *PRESS_ARCHIVE)
    for run in range(2):
        report = cli.json("ingest", folder, "-c", "press", code=EXIT_INGEST_FAILURES)
        failed = {Path(f["location"]).name: f for f in report["failures"]}
        assert sorted(failed) == ["a.jpg", "b.jpg", "loop.jpg"], report
        assert all(f["message"] for f in failed.values())
        assert report["images_ingested"] == (1 if run == 0 else 0)
        assert report["duplicates_skipped"] == run


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder that the ``nobody`` account can reach (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="facelens-perm-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def walk_as_nobody(paths: list[Path]) -> dict[str, Any]:
    """``discover`` then ``read_files`` in a forked child that dropped root for ``nobody``:
    as root, chmod 000 stops no read, so no permission error could happen otherwise."""
    nobody = pwd.getpwnam("nobody")
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: everything it needs is imported already
        code = 1
        try:
            os.close(reader)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            failures: list[IngestFailure] = []
            files = discover(paths, failures)
            read = list(read_files(files, Settings(data_dir=Path("/nonexistent")), set()))
            failures += [r for r in read if isinstance(r, IngestFailure)]
            result = {"files": [str(f) for f in files], "failures": [asdict(f) for f in failures]}
            with os.fdopen(writer, "w") as out:
                json.dump(result, out)
            code = 0
        finally:
            os._exit(code)
    os.close(writer)
    with os.fdopen(reader) as answer:
        text = answer.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, text
    found: dict[str, Any] = json.loads(text)
    return found


def test_given_unreadable_folders_then_each_is_a_listed_failure(
    shared_tmp: Path, photos: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("drops privileges to nobody, which needs root")
    readable, locked = shared_tmp / "readable", shared_tmp / "locked"
    for folder in (readable, locked, readable / "sub"):
        folder.mkdir()
        folder.chmod(0o755)
    for path in (readable / "ok.jpg", locked / "hidden.jpg", readable / "sub" / "secret.jpg"):
        shutil.copy(photos / "obama.jpg", path)
        path.chmod(0o644)
    (readable / "unreadable.jpg").write_bytes(b"x")
    (readable / "unreadable.jpg").chmod(0o000)
    locked.chmod(0o000)
    (readable / "sub").chmod(0o000)

    result = walk_as_nobody([readable, locked / "hidden.jpg"])

    failed = {Path(f["location"]).name: (f["error"], f["message"]) for f in result["failures"]}
    assert set(failed) == {"sub", "hidden.jpg", "unreadable.jpg"}, result
    assert all("Permission denied" in message for _, message in failed.values()), failed
    assert str(readable / "ok.jpg") in result["files"]
