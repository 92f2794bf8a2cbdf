"""Issue 6, items 1, 3 and 7: every collection declares its legal basis; consent collections
take faces only against a valid consent record, and withdrawal erases them; a jurisdiction
policy refuses ingest and search where it must. Real photos, engine, store, index and API."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from facelens.api.app import create_app
from facelens.cli.main import EXIT_REFUSED
from facelens.config import Settings
from facelens.engine import Engine
from facelens.errors import (
    ConsentRequiredError,
    InvalidArgumentError,
    JurisdictionRefusedError,
    NoLegalBasisError,
)
from facelens.pipeline.analyse import FacePipeline
from facelens.privacy.policy import CollectionPolicy, JurisdictionPolicy, LegalBasis
from facelens.security.accounts import Role, create_account
from tests.conftest import SEARCH_WHY, TEST_POLICY, Cli, Declare

runner = CliRunner()
CONSENT_POLICY = CollectionPolicy(LegalBasis.CONSENT, ["US-IL"], "building access", 365)


# --- item 1: legal basis per collection -----------------------------------------------------


def test_given_no_collection_then_ingest_is_refused_and_nothing_is_stored(
    engine: Engine, photos: Path
) -> None:
    with pytest.raises(NoLegalBasisError, match="create it first with its legal basis"):
        engine.ingest([photos / "obama.jpg"], "undeclared", workers=1)
    with pytest.raises(NoLegalBasisError):
        engine.enrol("Barack Obama", [photos / "obama.jpg"], collection="undeclared")
    assert engine.stats().images == 0 and engine.index.count() == 0


def test_given_a_collection_from_before_legal_bases_then_ingest_waits_for_its_policy(
    engine: Engine, photos: Path
) -> None:
    engine.store.ensure_collection("legacy")  # as migration 0005 leaves older collections
    with pytest.raises(NoLegalBasisError, match="declares no legal basis"):
        engine.ingest([photos / "obama.jpg"], "legacy", workers=1)
    engine.set_collection_policy("legacy", TEST_POLICY)
    assert engine.ingest([photos / "obama.jpg"], "legacy", workers=1).faces_indexed == 1


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"basis": "other"}, "needs a text"),
        ({"jurisdictions": []}, "name the jurisdictions"),
        ({"jurisdictions": ["Narnia"]}, "ISO 3166"),
        ({"purpose": ""}, "state the purpose"),
        ({"retention_days": 0}, "at least 1 day"),
        ({"basis": "legitimate-interest"}, "unknown legal basis"),
    ],
)
def test_given_an_incomplete_policy_then_a_clear_error(fields: dict[str, Any], words: str) -> None:
    given: dict[str, Any] = {
        "basis": "contract",
        "jurisdictions": ["GB"],
        "purpose": "fraud prevention",
        "retention_days": 30,
    } | fields
    with pytest.raises(InvalidArgumentError, match=words):
        CollectionPolicy.parse(**given)


@pytest.fixture
def client(tmp_path: Path, pipeline: FacePipeline) -> Iterator[TestClient]:
    policy_file = tmp_path / "jurisdictions.toml"
    policy_file.write_text('consent_required_for = ["US-IL"]\nsearch_forbidden_in = ["CA"]\n')
    settings = Settings(data_dir=tmp_path / "data", jurisdiction_policy_file=policy_file)
    with TestClient(create_app(settings, pipeline)) as test_client:
        yield test_client


def api_key(client: TestClient, role: Role, jurisdiction: str | None = None) -> dict[str, str]:
    store = client.app.state.service.engine.store  # type: ignore[attr-defined]
    name = f"{role}-{jurisdiction or 'any'}"
    return {"X-API-Key": create_account(store, name, role, jurisdiction)[1]}


def test_given_the_api_then_collections_need_a_basis_and_refusals_keep_no_upload(
    client: TestClient, photos: Path
) -> None:
    admin, enroller = api_key(client, Role.ADMIN), api_key(client, Role.ENROLLER)
    files = [("files", ("obama.jpg", (photos / "obama.jpg").read_bytes(), "image/jpeg"))]
    refused = client.post("/collections/nowhere/images", headers=enroller, files=files)
    assert refused.status_code == 403
    assert refused.json()["rule"] == "legal-basis"
    uploads = client.app.state.service.uploads  # type: ignore[attr-defined]
    assert not uploads.exists() or not any(uploads.rglob("*.jpg")), "refused, yet kept"

    incomplete = client.post("/collections", headers=admin, json={"name": "press"})
    assert incomplete.status_code == 422
    assert "basis" in incomplete.json()["detail"]
    made = client.post(
        "/collections",
        headers=admin,
        json={
            "name": "press",
            "basis": "public-task",
            "jurisdictions": ["gb"],
            "purpose": "press archive",
            "retention_days": 3650,
        },
    )
    assert made.status_code == 201, made.text
    assert made.json()["policy"]["jurisdictions"] == ["GB"]
    assert (
        client.post("/collections/press/images", headers=enroller, files=files).status_code == 201
    )
    shown = client.get("/collections/press", headers=enroller).json()
    assert shown["policy"]["basis"] == "public-task" and shown["faces_indexed"] == 1


# --- item 3: consent registry ------------------------------------------------------------


def side_by_side(left: Path, right: Path, out: Path) -> Path:
    """One photo of two people: the subject (left) and, smaller, a bystander (right)."""
    a, b = Image.open(left).convert("RGB"), Image.open(right).convert("RGB")
    scale = 0.5 * a.height / b.height
    b = b.resize((int(b.width * scale), int(b.height * scale)))
    height = max(a.height, b.height)
    canvas = Image.new("RGB", (a.width + b.width, height), (128, 128, 128))
    canvas.paste(a, (0, 0))
    canvas.paste(b, (a.width, 0))
    canvas.save(out)
    return out


def consent(engine: Engine, scope: str, **when: datetime | None) -> int:
    given = when.get("given_at") or datetime.now(UTC) - timedelta(days=1)
    return engine.store.add_consent(
        subject_ref="employee 1234",
        purpose="building access",
        scope=[scope],
        given_at=given,
        expires_at=when.get("expires_at"),
        evidence_ref="signed form HR-1234",
    ).id


def test_given_a_consent_collection_then_only_enrolment_against_valid_consent_adds_faces(
    engine: Engine, photos: Path, tmp_path: Path, declare: Declare
) -> None:
    declare(engine, "staff", policy=CONSENT_POLICY)
    declare(engine, "other")
    with pytest.raises(ConsentRequiredError, match="only by enrolling"):
        engine.ingest([photos / "obama.jpg"], "staff", workers=1)
    with pytest.raises(ConsentRequiredError, match="name the person's consent record"):
        engine.enrol("Barack Obama", [photos / "obama.jpg"], collection="staff")
    expired = consent(engine, "staff", expires_at=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(ConsentRequiredError, match="expired"):
        engine.enrol("Barack Obama", [photos / "obama.jpg"], collection="staff", consent_id=expired)
    elsewhere = consent(engine, "other")
    with pytest.raises(ConsentRequiredError, match="covers other"):
        engine.enrol(
            "Barack Obama", [photos / "obama.jpg"], collection="staff", consent_id=elsewhere
        )
    assert engine.stats().images == 0, "every refusal kept nothing"

    valid = consent(engine, "staff")
    pair = side_by_side(photos / "obama.jpg", photos / "biden.jpg", tmp_path / "pair.jpg")
    assert len(engine.analyse(pair).accepted_faces) == 2
    person = engine.enrol("Barack Obama", [pair], collection="staff", consent_id=valid)
    assert len(person.face_ids) == 1
    assert engine.stats().faces_indexed == 1, "the bystander (Biden) did not consent: not kept"
    recorded = engine.store.consent(valid)
    assert recorded.person_id == person.id
    top = engine.search(photos / "obama2.jpg", **SEARCH_WHY).faces[0].matches[0]
    assert top.is_match and top.person_name == "Barack Obama"
    biden = engine.search(photos / "biden.jpg", **SEARCH_WHY).faces[0].matches
    assert not any(m.is_match for m in biden)

    somebody_else = engine.store.get_or_create_person("Joe Biden")
    assert somebody_else != person.id
    with pytest.raises(ConsentRequiredError, match="another person's"):
        engine.enrol("Joe Biden", [photos / "biden.jpg"], collection="staff", consent_id=valid)


def test_given_a_withdrawn_consent_then_the_faces_are_erased_through_the_api(
    tmp_path: Path, pipeline: FacePipeline, photos: Path, declare: Declare
) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"), pipeline)) as client:
        engine: Engine = client.app.state.service.engine  # type: ignore[attr-defined]
        declare(engine, "staff", policy=CONSENT_POLICY)
        enroller = api_key(client, Role.ENROLLER)
        recorded = client.post(
            "/consents",
            headers=enroller,
            json={
                "subject_ref": "employee 77",
                "purpose": "building access",
                "scope": ["staff"],
                "evidence_ref": "form HR-77",
            },
        )
        assert recorded.status_code == 201, recorded.text
        consent_id = recorded.json()["id"]
        photo = ("obama.jpg", (photos / "obama.jpg").read_bytes(), "image/jpeg")
        without = client.post(
            "/collections/staff/enrolments",
            headers=enroller,
            data={"person_name": "Barack Obama"},
            files=[("photos", photo)],
        )
        assert without.status_code == 403 and without.json()["rule"] == "consent"
        enrolled = client.post(
            "/collections/staff/enrolments",
            headers=enroller,
            data={"person_name": "Barack Obama", "consent_id": str(consent_id)},
            files=[("photos", photo)],
        )
        assert enrolled.status_code == 201, enrolled.text
        face_ids = enrolled.json()["face_ids"]
        assert engine.index.count() == 1

        withdrawn = client.post(f"/consents/{consent_id}/withdraw", headers=enroller)
        assert withdrawn.status_code == 200, withdrawn.text
        assert withdrawn.json()["faces_erased"] == face_ids
        assert engine.index.count() == 0 and engine.store.face_records(face_ids) == {}
        assert not any((tmp_path / "data" / "uploads").rglob("*.jpg")), "the upload went too"
        listed = client.get("/consents", headers=enroller).json()
        assert listed[0]["withdrawn_at"] is not None
        again = client.post(
            "/collections/staff/enrolments",
            headers=enroller,
            data={"person_name": "Barack Obama", "consent_id": str(consent_id)},
            files=[("photos", photo)],
        )
        assert again.status_code == 403 and "withdrawn" in again.json()["detail"]
        actions = [e.action for e in engine.store.audit_entries()]
        assert "consent withdraw" in actions


def test_given_the_cli_then_consent_is_recorded_enrolled_against_and_withdrawn(
    tmp_path: Path, photos: Path
) -> None:
    cli = Cli(tmp_path / "data")
    consent_basis = ("--basis", "consent", "-j", "US-IL", "--purpose", "building access")
    cli("collection", "create", "staff", *consent_basis, "--retention-days", "365")
    refused = cli(
        "person", "add", "Barack Obama", str(photos / "obama.jpg"), "-c", "staff", code=EXIT_REFUSED
    )
    assert "consent" in refused
    added = cli(
        "consent",
        "add",
        "--subject",
        "E-9",
        "--purpose",
        "building access",
        "--scope",
        "staff",
        "--evidence",
        "form E-9",
    )
    assert "consent 1 recorded" in added
    cli("person", "add", "Barack Obama", str(photos / "obama.jpg"), "-c", "staff", "--consent", "1")
    assert "valid" in cli("consent", "list")
    assert "1 face(s) and 1 image(s) erased" in cli("consent", "withdraw", "1")
    assert "withdrawn" in cli("consent", "list")


# --- item 7: jurisdiction rules -------------------------------------------------------------


def test_given_a_jurisdiction_policy_then_ingest_without_consent_is_refused_and_logged(
    client: TestClient, photos: Path
) -> None:
    admin, enroller = api_key(client, Role.ADMIN), api_key(client, Role.ENROLLER)
    illinois: dict[str, Any] = {
        "basis": "contract",
        "jurisdictions": ["US-IL"],
        "purpose": "fraud checks",
        "retention_days": 90,
    }
    refused = client.post("/collections", headers=admin, json={"name": "il", **illinois})
    assert refused.status_code == 403
    assert refused.json()["rule"] == "jurisdiction-consent"
    assert "only with consent" in refused.json()["detail"]

    # A collection declared before the rule: its ingest is refused from now on.
    engine: Engine = client.app.state.service.engine  # type: ignore[attr-defined]
    engine.store.create_collection("older", CollectionPolicy.parse(**illinois))
    files = [("files", ("obama.jpg", (photos / "obama.jpg").read_bytes(), "image/jpeg"))]
    upload = client.post("/collections/older/images", headers=enroller, files=files)
    assert upload.status_code == 403 and upload.json()["rule"] == "jurisdiction-consent"
    consent_based = client.post(
        "/collections", headers=admin, json={"name": "il-staff", **illinois, "basis": "consent"}
    )
    assert consent_based.status_code == 201
    refusals = [e.details.get("refused") for e in engine.store.audit_entries()]
    assert refusals.count("jurisdiction-consent") == 2


def test_given_an_account_in_a_forbidden_jurisdiction_then_it_may_not_search(
    client: TestClient, photos: Path, declare: Declare
) -> None:
    engine: Engine = client.app.state.service.engine  # type: ignore[attr-defined]
    declare(engine, "press")
    engine.ingest([photos / "obama.jpg"], "press", workers=1)
    probe = {"image": ("p.jpg", (photos / "obama2.jpg").read_bytes(), "image/jpeg")}
    form = {"purpose": "fraud check", "case_ref": "C-1"}
    canada = client.post(
        "/searches", headers=api_key(client, Role.ANALYST, "CA"), files=probe, data=form
    )
    assert canada.status_code == 403 and canada.json()["rule"] == "jurisdiction-search"
    assert "may not search" in canada.json()["detail"]
    britain = client.post(
        "/searches", headers=api_key(client, Role.ANALYST, "GB"), files=probe, data=form
    )
    assert britain.status_code == 200 and britain.json()["faces"][0]["matches"][0]["is_match"]
    assert engine.store.search_log()[0].account_name == "analyst-GB", "the refusal ran no search"
    refused = [e for e in engine.store.audit_entries() if e.details.get("refused")]
    assert [(e.actor, e.details["refused"]) for e in refused] == [
        ("account:1 analyst-CA", "jurisdiction-search")
    ]


def test_given_a_policy_file_then_a_change_is_logged_once_and_a_bad_file_is_a_clear_error(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text('search_forbidden_in = ["CA"]\n')
    settings = Settings(data_dir=tmp_path / "data", jurisdiction_policy_file=policy_file)

    def changes() -> list[dict[str, Any]]:
        with Engine(settings, pipeline=pipeline) as engine:
            return [e.details for e in engine.store.audit_entries() if e.action == "policy change"]

    assert [c["search_forbidden_in"] for c in changes()] == [["CA"]]
    assert len(changes()) == 1, "the same policy again is no change"
    policy_file.write_text('search_forbidden_in = ["CA", "FR"]\n')
    assert [c["search_forbidden_in"] for c in changes()] == [["CA"], ["CA", "FR"]]
    policy_file.write_text('search_forbiden_in = ["CA"]\n')
    with pytest.raises(InvalidArgumentError, match="unknown keys search_forbiden_in"):
        JurisdictionPolicy.load(policy_file)
    with pytest.raises(JurisdictionRefusedError):
        JurisdictionPolicy(search_forbidden_in=frozenset({"CA"})).check_search("ca")


def test_given_faces_stored_then_the_database_holds_no_plain_embedding(
    engine: Engine, photos: Path, declare: Declare
) -> None:
    """Item 9 in the store: every embedding column holds a sealed blob, not float32s."""
    declare(engine, "press")
    engine.ingest([photos / "obama.jpg", photos / "biden.jpg"], "press", workers=1)
    [(_, vectors)] = list(engine.store.embeddings(engine.model))
    database = engine.settings.data_dir / "facelens.db"
    with sqlite3.connect(database) as connection:
        blobs = [
            row[0]
            for row in connection.execute("SELECT embedding FROM faces WHERE embedding IS NOT NULL")
        ]
    assert all(len(blob) == 512 + 28 for blob in blobs)
    for vector in vectors:
        plain = np.asarray(vector, dtype="<f4").tobytes()
        assert all(plain not in blob for blob in blobs)
