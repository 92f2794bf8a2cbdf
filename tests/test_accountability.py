"""Accountability: who stored which images (also when an ingest is cut short), and that
browsing, anonymous floods and failed sign-ins are audited without flooding the log."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import facelens.engine.ingest
from facelens.api.app import create_app
from facelens.config import Settings
from facelens.engine import Engine
from facelens.pipeline.analyse import FacePipeline
from facelens.privacy.audit import AuditEntry
from facelens.security.accounts import Role, create_account
from tests.conftest import Declare


def test_given_an_ingest_then_stored_images_are_attributed_while_it_runs(
    engine: Engine, declare: Declare, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ingest killed midway must not leave its stored images unattributed: each batch is
    in the audit log as soon as it is stored, not only at the end."""
    monkeypatch.setattr(facelens.engine.ingest, "ATTRIBUTE_EVERY_IMAGES", 2)
    declare(engine, "press")
    folder = tmp_path / "press"
    folder.mkdir()
    for name in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"):
        shutil.copy(photos / name, folder / name)
    seen: list[tuple[int, int]] = []

    def attributed() -> list[int]:
        entries = engine.store.audit_entries()
        return [i for e in entries if e.action == "ingest" for i in e.details["image_ids"]]

    def progress(done: int, total: int) -> None:
        stored = len(engine.store.images("press", 0, 100))
        seen.append((stored, len(attributed())))

    engine.ingest([folder], "press", workers=1, progress=progress, actor="cli:tester")
    # At every point at most one batch (less than 2 images) is stored but not yet attributed.
    assert all(stored - done < 2 for stored, done in seen), seen
    assert seen[1] == (2, 2), seen
    stored_ids = [i.image_id for i in engine.store.images("press", 0, 100)]
    assert sorted(attributed()) == sorted(stored_ids) and len(stored_ids) == 4
    assert {e.actor for e in engine.store.audit_entries() if e.action == "ingest"} == {"cli:tester"}


@pytest.fixture
def client(tmp_path: Path, pipeline: FacePipeline, declare: Declare) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", anonymous_rate_limit_per_minute=5)
    with TestClient(create_app(settings, pipeline)) as test_client:
        declare(test_client.app.state.service.engine, "people")  # type: ignore[attr-defined]
        yield test_client


def _keys(client: TestClient) -> dict[Role, dict[str, str]]:
    store = client.app.state.service.engine.store  # type: ignore[attr-defined]
    return {role: {"X-API-Key": create_account(store, f"{role}-1", role)[1]} for role in Role}


def _entries(client: TestClient) -> list[AuditEntry]:
    service = client.app.state.service  # type: ignore[attr-defined]
    entries: list[AuditEntry] = service.engine.store.audit_entries()
    return [e for e in entries if e.action != "retention"]


def test_given_browsing_then_each_look_is_audited_with_the_account_and_analysts_may_not(
    client: TestClient, photos: Path
) -> None:
    keys = _keys(client)
    enroller, analyst = keys[Role.ENROLLER], keys[Role.ANALYST]
    files = [("files", ("obama.jpg", (photos / "obama.jpg").read_bytes(), "image/jpeg"))]
    assert client.post("/collections/people/images", headers=enroller, files=files).is_success
    before = len(_entries(client))
    looks = ["/persons", "/collections/people/images", "/faces?image_id=1", "/faces/1", "/images/1"]
    for path in looks:
        assert client.get(path, headers=enroller).status_code == 200, path
    for path in ("/faces/1/thumbnail", "/faces/1/source"):  # faces a search showed
        assert client.get(path, headers=analyst).status_code == 200, path
    logged = [(e.actor, e.subject) for e in _entries(client)[before:]]
    assert logged == [("account:2 enroller-1", p.split("?")[0]) for p in looks] + [
        ("account:3 analyst-1", "face 1"),  # the engine's entry of the view
        ("account:3 analyst-1", "/faces/1/thumbnail"),
        ("account:3 analyst-1", "face 1"),
        ("account:3 analyst-1", "/faces/1/source"),
    ]
    for path in looks:
        refused = client.get(path, headers=analyst)
        assert refused.status_code == 403 and refused.json()["type"] == "/problems/forbidden"


def test_given_an_anonymous_flood_then_429_and_one_tally_entry_per_address_and_minute(
    client: TestClient,
) -> None:
    keys = _keys(client)
    statuses = [client.post("/searches").status_code for _ in range(8)]
    assert statuses == [401] * 5 + [429] * 3
    limited = client.post("/searches")
    assert limited.headers["content-type"] == "application/problem+json"
    assert limited.json()["type"] == "/problems/rate_limited"
    assert "anonymous_rate_limit_per_minute" in limited.json()["detail"]
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # A key from the flooding address waits too (else guessing keys would go on).
    assert client.get("/collections", headers=keys[Role.ANALYST]).status_code == 429
    assert client.get("/healthz").status_code == 200, "health checks are never limited"

    assert not [e for e in _entries(client) if e.actor == "anonymous"], "none one by one"
    client.app.state.service.flush_anonymous(everything=True)  # type: ignore[attr-defined]
    [tally] = [e for e in _entries(client) if e.actor == "anonymous"]
    assert (tally.action, tally.subject, tally.details["count"]) == (
        "anonymous requests",
        "testclient",
        10,
    )
    assert tally.details["requests"] == {
        "POST /searches 401": 5,
        "POST /searches 429": 4,
        "GET /collections 429": 1,
    }


def test_given_failed_sign_ins_then_the_address_is_throttled(client: TestClient) -> None:
    keys = _keys(client)
    wrong = [client.post("/session", data={"key": "fl_1_wrong"}).status_code for _ in range(6)]
    assert wrong == [401] * 5 + [429]
    right = client.post("/session", data={"key": keys[Role.ANALYST]["X-API-Key"]})
    assert right.status_code == 429 and "Retry-After" in right.headers
