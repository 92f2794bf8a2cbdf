"""The tamper-evident audit log: what the API and the command line append, and that editing,
deleting or reordering entries is detected (by the API and by `facelens audit verify`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from facelens.api.app import create_app
from facelens.cli.main import EXIT_AUDIT_TAMPERED, EXIT_OTHER, app
from facelens.config import Settings
from facelens.engine import Engine
from facelens.pipeline.analyse import FacePipeline
from facelens.privacy.audit import GENESIS_HASH, entry_hash
from facelens.security.accounts import Role, create_account
from facelens.security.crypto import TemplateCipher, generate_key
from facelens.store import create_store
from tests.conftest import Cli, Declare

runner = CliRunner()
#: The store meta row recording from which entry on the chain is keyed.
AUDIT_CHAIN_META = "audit_chain"


@pytest.fixture
def client(tmp_path: Path, pipeline: FacePipeline, declare: Declare) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"), pipeline)) as test_client:
        declare(test_client.app.state.service.engine, "c")  # type: ignore[attr-defined]
        yield test_client


def test_given_api_use_then_each_security_event_is_appended_and_the_chain_verifies(
    client: TestClient, photos: Path
) -> None:
    store = client.app.state.service.engine.store  # type: ignore[attr-defined]
    keys = {role: {"X-API-Key": create_account(store, f"{role}-a", role)[1]} for role in Role}
    client.post("/session", data={"key": "fl_1_wrong"})  # a refused sign-in
    files = [("files", ("obama.jpg", (photos / "obama.jpg").read_bytes(), "image/jpeg"))]
    client.post("/collections/c/images", headers=keys[Role.ENROLLER], files=files)
    found = client.post(
        "/searches",
        headers=keys[Role.ANALYST],
        files={"image": ("p.jpg", (photos / "obama2.jpg").read_bytes(), "image/jpeg")},
        data={"purpose": "audit test", "case_ref": "A-1"},
    ).json()
    face_id = found["faces"][0]["matches"][0]["face_id"]
    client.get(f"/faces/{face_id}/source", headers=keys[Role.ANALYST])
    client.get(f"/faces/{face_id}/thumbnail", headers=keys[Role.ANALYST])
    client.delete(f"/faces/{face_id}", headers=keys[Role.ENROLLER])
    client.app.state.service.flush_anonymous(everything=True)  # type: ignore[attr-defined]

    logged = client.get("/audit", headers=keys[Role.AUDITOR]).json()
    # The server's retention task logs each of its runs (actor "system") in between.
    entries = [e for e in logged if e["action"] != "retention"]
    assert [(e["actor"], e["action"], e["details"].get("status")) for e in entries] == [
        ("account:2 enroller-a", "ingest", None),  # the images it stored, as they were
        ("account:2 enroller-a", "POST /collections/{name}/images", 201),
        ("account:3 analyst-a", "search", None),  # by the engine: why, probe hashes, faces
        ("account:3 analyst-a", "POST /searches", 200),
        ("account:3 analyst-a", "source view", None),
        ("account:3 analyst-a", "GET /faces/{face_id}/source", 200),
        ("account:3 analyst-a", "source view", None),
        ("account:3 analyst-a", "GET /faces/{face_id}/thumbnail", 200),
        ("account:2 enroller-a", "DELETE /faces/{face_id}", 200),
        ("anonymous", "anonymous requests", None),  # per address and minute, with a count
    ]
    assert entries[-1]["details"]["requests"] == {"POST /session 401": 1}
    assert all(e["prev_hash"] == before["hash"] for before, e in pairwise(logged))
    check = client.get("/audit/verify", headers=keys[Role.AUDITOR]).json()
    assert check["intact"] and check["entries"] == len(logged) + 1  # and the read of the log
    assert client.get("/audit", headers=keys[Role.ANALYST]).status_code == 403


def chain(data: Path, entries: int) -> Path:
    store = create_store(Settings(data_dir=data), TemplateCipher(generate_key()))
    for n in range(entries):
        store.append_audit("cli", "cli ingest", f"collection {n}", {"images": n})
    store.close()
    return data / "facelens.db"


def verify(data: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "verify", "--data", str(data)])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        ("UPDATE audit_log SET details = '{\"images\": 99}' WHERE id = 3", "content was changed"),
        ("UPDATE audit_log SET actor = 'someone else' WHERE id = 2", "content was changed"),
        ("DELETE FROM audit_log WHERE id = 3", "entries 3 to 3 are missing"),
        (
            # Swap entries 2 and 3, each kept whole: the chain no longer links.
            "UPDATE audit_log SET id = -2 WHERE id = 2; UPDATE audit_log SET id = 2 WHERE id = 3;"
            "UPDATE audit_log SET id = 3 WHERE id = -2",
            "does not follow",
        ),
    ],
    ids=["edited details", "edited actor", "deleted", "reordered"],
)
def test_given_a_tampered_log_then_verify_names_the_entry_and_fails(
    tmp_path: Path, tamper: str, problem: str
) -> None:
    database = chain(tmp_path, 5)
    assert verify(tmp_path) == (0, "audit log intact: 5 entries, hash chain verified\n")
    with sqlite3.connect(database) as connection:
        connection.executescript(tamper)
    code, output = verify(tmp_path)
    assert code == EXIT_AUDIT_TAMPERED
    assert problem in output


def test_given_an_export_then_every_entry_is_a_json_line_with_its_hashes(tmp_path: Path) -> None:
    chain(tmp_path, 3)
    out = tmp_path / "audit.jsonl"
    result = runner.invoke(app, ["audit", "export", "--out", str(out), "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["id"] for line in lines] == [1, 2, 3]
    assert all(len(line["hash"]) == 64 for line in lines)
    # The export itself is logged, and the chain still holds.
    assert verify(tmp_path) == (0, "audit log intact: 4 entries, hash chain verified\n")


# --- a keyed chain: what someone who can write to the database cannot hide -------------------


def keyed_log(data: Path, entries: int, pipeline: FacePipeline) -> Path:
    """A new data folder (its log keyed from the first entry) with ``entries`` entries,
    appended by an engine, which holds the audit key."""
    with Engine(Settings(data_dir=data), pipeline=pipeline) as engine:
        for n in range(entries):
            engine.store.append_audit("cli", "cli ingest", f"collection {n}", {"images": n})
    return data / "facelens.db"


def rechain(database: Path, *, delete: int | None = None) -> None:
    """What an attacker with write access to the database does: edit or delete entries, then
    renumber and recompute every entry's SHA-256 so that the chain links again."""
    with sqlite3.connect(database) as connection:
        if delete is not None:
            connection.execute("DELETE FROM audit_log WHERE id = ?", (delete,))
        rows = connection.execute(
            "SELECT id, at, actor, action, subject, details FROM audit_log ORDER BY id"
        ).fetchall()
        connection.execute("DELETE FROM audit_log")
        previous = GENESIS_HASH
        for new_id, (_, at, actor, action, subject, details) in enumerate(rows, start=1):
            when = datetime.fromisoformat(at)
            digest = entry_hash(new_id, when, actor, action, subject, json.loads(details), previous)
            connection.execute(
                "INSERT INTO audit_log (id, at, actor, action, subject, details, prev_hash, hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (new_id, at, actor, action, subject, details, previous, digest),
            )
            previous = digest


def test_given_an_entry_edited_and_the_sha_chain_recomputed_then_verify_detects_it(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    database = keyed_log(tmp_path, 5, pipeline)
    assert verify(tmp_path) == (0, "audit log intact: 5 entries, hash chain verified\n")
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE audit_log SET subject = 'nothing to see' WHERE id = 3")
    rechain(database)
    code, output = verify(tmp_path)
    assert code == EXIT_AUDIT_TAMPERED
    assert "entry 1:" in output and "content was changed" in output  # all rehashed: the first


def test_given_an_entry_deleted_and_the_log_rechained_then_verify_detects_it(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    database = keyed_log(tmp_path, 5, pipeline)
    rechain(database, delete=3)
    code, output = verify(tmp_path)
    assert code == EXIT_AUDIT_TAMPERED and "content was changed" in output


def test_given_the_newest_entries_cut_then_verify_against_a_checkpoint_detects_it(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    database = keyed_log(tmp_path, 4, pipeline)
    saved = tmp_path / "checkpoint.json"
    cli = Cli(tmp_path)
    cli("audit", "checkpoint", "--out", saved)
    checkpoint = json.loads(saved.read_text())
    assert checkpoint["entries"] == checkpoint["last_id"] == 5  # the checkpoint is logged too
    assert datetime.fromisoformat(checkpoint["at"]).utcoffset() is not None
    assert {"folder_id", "last_mac", "mac"} <= set(checkpoint)
    assert json.loads(cli("audit", "checkpoint"))["last_id"] == 6  # printed, when no --out
    assert "checkpoint at entry 5 matches" in cli("audit", "verify", "--against", saved)

    with sqlite3.connect(database) as connection:
        connection.execute("DELETE FROM audit_log WHERE id >= 4")
    assert verify(tmp_path)[0] == 0  # a chain alone cannot show that its end was cut
    output = cli("audit", "verify", "--against", saved, code=EXIT_AUDIT_TAMPERED)
    assert "entry 4:" in output and "entries 4 to 5 are missing" in output
    report = cli.json("audit", "verify", "--against", saved, code=EXIT_AUDIT_TAMPERED)
    assert report["intact"] is False and report["first_bad_id"] == 4


def test_given_a_checkpoint_edited_then_verify_refuses_it(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    keyed_log(tmp_path, 3, pipeline)
    saved = tmp_path / "checkpoint.json"
    cli = Cli(tmp_path)
    cli("audit", "checkpoint", "--out", saved)
    checkpoint = json.loads(saved.read_text())
    saved.write_text(json.dumps({**checkpoint, "entries": 2, "last_id": 2}))
    output = cli("audit", "verify", "--against", saved, code=EXIT_OTHER)
    assert "checkpoint" in output and "altered" in output
    saved.write_text("not json")
    assert "not an audit checkpoint" in cli("audit", "verify", "--against", saved, code=EXIT_OTHER)


def test_given_the_chain_marker_removed_or_altered_then_verify_fails(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    database = keyed_log(tmp_path, 3, pipeline)
    with sqlite3.connect(database) as connection:
        (marker,) = connection.execute(
            "SELECT value FROM meta WHERE key = ?", (AUDIT_CHAIN_META,)
        ).fetchone()
        altered = {**json.loads(marker), "keyed_from": 3}
        connection.execute(
            "UPDATE meta SET value = ? WHERE key = ?", (json.dumps(altered), AUDIT_CHAIN_META)
        )
    code, output = verify(tmp_path)
    assert code == EXIT_AUDIT_TAMPERED and "marker" in output and "altered" in output
    with sqlite3.connect(database) as connection:
        connection.execute("DELETE FROM meta WHERE key = ?", (AUDIT_CHAIN_META,))
    code, output = verify(tmp_path)
    assert code == EXIT_AUDIT_TAMPERED and "marker" in output and "missing" in output
    # Opening the folder again does not quietly start a new marker.
    code, output = verify(tmp_path)
    assert code == EXIT_AUDIT_TAMPERED and "missing" in output


def test_given_an_unkeyed_log_of_an_older_version_then_it_verifies_and_is_protected_after(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    database = chain(tmp_path, 5)  # the store alone: plain SHA-256, as before keyed chains
    assert verify(tmp_path) == (0, "audit log intact: 5 entries, hash chain verified\n")
    with sqlite3.connect(database) as connection:
        (marker,) = connection.execute(
            "SELECT value FROM meta WHERE key = ?", (AUDIT_CHAIN_META,)
        ).fetchone()
    assert json.loads(marker)["keyed_from"] == 6  # keyed from the next entry on
    with Engine(Settings(data_dir=tmp_path), pipeline=pipeline) as engine:
        engine.store.append_audit("cli", "cli ingest", "after the upgrade", {})
    assert verify(tmp_path) == (0, "audit log intact: 6 entries, hash chain verified\n")

    # Rewriting the old, unkeyed part is now detected: the keyed part covers its head.
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE audit_log SET subject = 'rewritten' WHERE id = 2")
    rechain(database)
    code, output = verify(tmp_path)
    assert code == EXIT_AUDIT_TAMPERED and "entry 5:" in output  # the head the marker holds


def test_given_an_upgraded_log_with_no_keyed_entry_yet_then_its_old_part_is_protected(
    tmp_path: Path,
) -> None:
    database = chain(tmp_path, 4)
    assert verify(tmp_path)[0] == 0  # the upgrade: the marker records the head, entry 4
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE audit_log SET subject = 'rewritten' WHERE id = 2")
    rechain(database)
    code, output = verify(tmp_path)
    assert code == EXIT_AUDIT_TAMPERED and "entry 4:" in output


def test_given_the_api_then_verification_uses_the_keyed_chain(
    client: TestClient, tmp_path: Path
) -> None:
    store = client.app.state.service.engine.store  # type: ignore[attr-defined]
    auditor = {"X-API-Key": create_account(store, "auditor-k", Role.AUDITOR)[1]}
    assert client.get("/audit/verify", headers=auditor).json()["intact"]
    checkpoint = client.get("/audit/checkpoint", headers=auditor).json()
    assert checkpoint["last_id"] == checkpoint["entries"] >= 1 and len(checkpoint["mac"]) == 64
    rechain(tmp_path / "data" / "facelens.db")
    check = client.get("/audit/verify", headers=auditor).json()
    assert not check["intact"] and check["problem"] == "its content was changed"
