"""The tamper-evident audit log: what the API and the command line append, and that editing,
deleting or reordering entries is detected (by the API and by `facelens audit verify`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from facelens.accounts import Role, create_account
from facelens.api.app import create_app
from facelens.cli.main import EXIT_AUDIT_TAMPERED, app
from facelens.config import Settings
from facelens.crypto import TemplateCipher, generate_key
from facelens.pipeline import FacePipeline
from facelens.store import create_store
from tests.conftest import Declare

runner = CliRunner()


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
    client.get(f"/faces/{face_id}/thumbnail", headers=keys[Role.ANALYST])  # part of the search
    client.delete(f"/faces/{face_id}", headers=keys[Role.ENROLLER])

    logged = client.get("/audit", headers=keys[Role.AUDITOR]).json()
    # The server's retention task logs each of its runs (actor "system") in between.
    entries = [e for e in logged if e["action"] != "retention"]
    assert [(e["actor"], e["action"], e["details"]["status"]) for e in entries] == [
        ("anonymous", "POST /session", 401),
        ("account:2 enroller-a", "POST /collections/{name}/images", 201),
        ("account:3 analyst-a", "POST /searches", 200),
        ("account:3 analyst-a", "GET /faces/{face_id}/source", 200),
        ("account:2 enroller-a", "DELETE /faces/{face_id}", 200),
    ]
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
