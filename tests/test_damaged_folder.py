"""Issue 12, items 2 and 3: damage is contained and named. One altered template is quarantined
(out of the index and search, counted by stats, listed by doctor, deletable), never a stop for
the folder; a missing, empty or corrupt store is a typed error saying what to do, never taken
for a new one; index files that do not load are rebuilt from the store. Real photos."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from facelens.config import Settings
from facelens.engine import Engine
from facelens.pipeline.analyse import FacePipeline
from tests.conftest import Cli, Declare

WHY = ("--purpose", "test search", "--case-ref", "T-12")


@pytest.fixture
def data(tmp_path: Path, pipeline: FacePipeline, photos: Path, declare: Declare) -> Path:
    """Obama (two photos) and Biden: three faces. Made afresh for each test, not copied: a
    copy has the same folder id, so the same key folder, and a test rotates the key."""
    data = tmp_path / "data"
    with Engine(Settings(data_dir=data), pipeline=pipeline) as engine:
        declare(engine, "press")
        report = engine.ingest(
            [photos / "obama.jpg", photos / "obama3.jpg", photos / "biden.jpg"], "press", workers=1
        )
    assert report.faces_indexed == 3
    return data


def alter_one_template_byte(data: Path) -> int:
    """Flip one byte in the first face's stored (sealed) embedding; returns that face's id."""
    with sqlite3.connect(data / "facelens.db") as db:
        face_id, blob = db.execute("SELECT id, embedding FROM faces ORDER BY id LIMIT 1").fetchone()
        damaged = bytearray(blob)
        damaged[40] ^= 0x01
        db.execute("UPDATE faces SET embedding = ? WHERE id = ?", (bytes(damaged), face_id))
    return int(face_id)


def index_files(data: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((data / "index").iterdir()) if p.is_file()}


def test_given_one_altered_template_then_it_is_quarantined_and_the_folder_works(
    data: Path, photos: Path
) -> None:
    cli = Cli(data)
    bad = alter_one_template_byte(data)
    assert cli.json("index", "rebuild")["faces_indexed"] == 2
    stats = cli.json("stats")
    assert stats["faces_quarantined"] == 1
    assert stats["index_count"] == 2
    found = cli.json("search", str(photos / "obama2.jpg"), *WHY)
    assert bad not in [m["face_id"] for f in found["faces"] for m in f["matches"]]
    assert cli("subject", "access", str(photos / "obama2.jpg"), "--ref", "SAR-12")
    report = cli.json("doctor", code=11)
    templates = next(f for f in report["findings"] if f["check"] == "templates")
    assert not templates["ok"] and str(bad) in templates["detail"]
    assert "faces_quarantined" in cli("stats")
    # Rotation must re-seal every template: it refuses, naming the way out, changing nothing.
    assert "delete-quarantined" in cli("keys", "rotate", code=7)
    assert cli.json("delete", "--face", str(bad))["faces_removed"] == 1
    assert cli.json("stats")["faces_quarantined"] == 0
    assert cli.json("doctor")["healthy"] is True


def test_given_quarantined_templates_then_doctor_deletes_them_only_when_asked(data: Path) -> None:
    cli = Cli(data)
    bad = alter_one_template_byte(data)
    repaired = cli.json("doctor", "--repair", code=11)  # the index, yes; the face, no
    assert any(f["check"] == "templates" and not f["ok"] for f in repaired["findings"])
    assert cli.json("stats")["faces_quarantined"] == 1
    assert cli.json("stats")["index_count"] == 2
    cleaned = cli.json("doctor", "--repair", "--delete-quarantined")
    assert cleaned["healthy"] is True
    with sqlite3.connect(data / "facelens.db") as db:
        assert db.execute("SELECT count(*) FROM faces WHERE id = ?", (bad,)).fetchone() == (0,)
    assert "templates re-sealed with the new key" in cli("keys", "rotate")


@pytest.mark.parametrize("how", ["empty", "missing"])
def test_given_the_store_file_emptied_or_gone_then_it_is_refused_and_the_index_kept(
    data: Path, how: str
) -> None:
    cli = Cli(data)
    before = index_files(data)
    db = data / "facelens.db"
    for extra in (data / "facelens.db-wal", data / "facelens.db-shm"):
        extra.unlink(missing_ok=True)
    if how == "empty":
        db.write_bytes(b"")
    else:
        db.unlink()
    for command in (("stats",), ("index", "rebuild"), ("doctor",)):
        output = cli(*command, code=13)
        assert "restore facelens.db from a backup" in output
        assert "Traceback" not in output
    assert index_files(data) == before  # derived, but never cut to match a lost store
    assert not db.exists() or db.stat().st_size == 0


def test_given_a_corrupt_store_file_then_a_typed_error_says_what_to_do(data: Path) -> None:
    cli = Cli(data)
    db = data / "facelens.db"
    for extra in (data / "facelens.db-wal", data / "facelens.db-shm"):
        extra.unlink(missing_ok=True)
    db.write_bytes(b"this is no database, just damage " * 200)
    result = cli.invoke("stats")
    assert result.exit_code == 13, (result.output, result.exception)
    assert "restore facelens.db from a backup" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    report = cli.json("doctor", code=13)
    assert report["healthy"] is False


@pytest.mark.parametrize("name", ["live.npy", "state.json", "vectors.sealed"])
def test_given_an_index_file_emptied_then_the_index_is_rebuilt_from_the_store(
    data: Path, name: str
) -> None:
    cli = Cli(data)
    (data / "index" / name).write_bytes(b"")
    stats = cli.json("stats")
    assert stats["index_count"] == stats["faces_indexed"] == 3
    assert cli.json("doctor")["healthy"] is True
