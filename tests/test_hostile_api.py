"""Issue 12, item 3: hostile inputs at the HTTP edge answer a 4xx problem, never a 500.

Sent through the real app (engine, store, index) signed in as an admin, who may call every
route, so that what answers is validation and not the authorisation check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

from facelens.api.app import create_app
from facelens.config import Settings
from facelens.pipeline.analyse import FacePipeline
from facelens.security.accounts import Role, create_account
from tests.conftest import Declare

HUGE = "99999999999999999999"  # past 64 bits: SQLite cannot bind it
POLICY = {"basis": "contract", "jurisdictions": ["GB"], "purpose": "fraud prevention"}
CONSENT = {"subject_ref": "s-1", "purpose": "door access", "evidence_ref": "form 7"}


@pytest.fixture
def client(tmp_path: Path, pipeline: FacePipeline, declare: Declare) -> Iterator[TestClient]:
    (tmp_path / "allowed").mkdir()
    settings = Settings(data_dir=tmp_path / "data", ingest_allowed_roots=[tmp_path / "allowed"])
    with TestClient(create_app(settings, pipeline), raise_server_exceptions=False) as test_client:
        engine = test_client.app.state.service.engine  # type: ignore[attr-defined]
        declare(engine, "people")
        key = create_account(engine.store, "admin-1", Role.ADMIN)[1]
        test_client.headers["X-API-Key"] = key
        yield test_client


#: (method, path, request keyword arguments): each one answered 500 before issue 12.
HOSTILE: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", f"/images/{HUGE}", {}),
    ("DELETE", f"/images/{HUGE}", {}),
    ("GET", f"/faces/{HUGE}", {}),
    ("DELETE", f"/faces/{HUGE}", {}),
    ("GET", f"/faces/{HUGE}/thumbnail", {}),
    ("GET", f"/faces/{HUGE}/source", {}),
    ("GET", "/faces", {"params": {"image_id": HUGE}}),
    ("GET", "/faces", {"params": {"person_id": HUGE}}),
    ("GET", "/faces", {"params": {"image_id": "0"}}),
    ("GET", "/collections/people/images", {"params": {"limit": HUGE}}),
    ("GET", "/collections/people/images", {"params": {"offset": HUGE}}),
    ("GET", "/collections/people/images", {"params": {"offset": "-1"}}),
    ("GET", "/collections/people/images", {"params": {"limit": "-1"}}),
    ("GET", "/audit", {"params": {"after_id": HUGE}}),
    ("GET", "/audit", {"params": {"limit": "-1"}}),
    ("GET", "/audit", {"params": {"limit": "0"}}),
    ("GET", "/searches", {"params": {"limit": HUGE}}),
    ("GET", "/searches", {"params": {"limit": "-1"}}),
    ("GET", f"/jobs/{HUGE}", {}),
    ("POST", f"/consents/{HUGE}/withdraw", {}),
    ("POST", f"/subject-requests/{HUGE}/confirm", {}),
    ("PATCH", f"/persons/{HUGE}", {"json": {"name": "x"}}),
    ("DELETE", f"/persons/{HUGE}", {}),
    ("POST", "/persons/1/faces", {"json": {"face_ids": [2**70]}}),
    ("POST", f"/persons/{HUGE}/faces", {"json": {"face_ids": [1]}}),
    ("POST", "/persons/1/merge", {"json": {"other_person_id": 2**70}}),
    ("POST", "/persons/1/split", {"json": {"face_ids": [2**70], "name": "x"}}),
    ("POST", f"/persons/{HUGE}/split", {"json": {"face_ids": [1], "name": "x"}}),
    ("POST", "/persons/1/split", {"json": {"face_ids": [1], "name": "n\x00ul"}}),
    ("GET", f"/persons/{HUGE}/rejections", {}),
    ("POST", "/persons/1/rejections", {"json": {"face_id": 2**70}}),
    ("POST", f"/persons/{HUGE}/rejections", {"json": {"face_id": 1}}),
    ("POST", f"/persons/1/rejections/{HUGE}/withdraw", {}),
    ("GET", f"/persons/{HUGE}/references", {}),
    ("POST", f"/persons/{HUGE}/searches", {"json": {"purpose": "check", "case_ref": "C-1"}}),
    (
        "POST",
        "/collections/people/enrolments",
        {"files": [("photos", ("a.jpg", b"x"))], "data": {"person_name": "p", "consent_id": HUGE}},
    ),
    ("GET", "/reports/transparency", {"params": {"since": "0001-01-01"}}),
    ("GET", "/reports/transparency", {"params": {"since": "9999-12-31"}}),
    ("GET", "/reports/transparency", {"params": {"since": "0001-01-01T00:00:00+14:00"}}),
    ("POST", "/jobs/ingest", {"json": {"folder": "{allowed}/a\x00b", "collection": "people"}}),
    ("POST", "/jobs/ingest", {"json": {"folder": "{allowed}", "collection": "peo\x00ple"}}),
    ("GET", "/collections/peo%00ple", {}),
    ("GET", "/collections/people/images", {"params": {"offset": "1\x00"}}),
    ("POST", "/collections", {"json": {"name": "n\x00ul", **POLICY, "retention_days": 30}}),
    ("POST", "/collections", {"json": {"name": "big", **POLICY, "retention_days": 10**20}}),
    ("POST", "/collections", {"json": {"name": "long", **POLICY, "retention_days": 10**6}}),
    ("PUT", "/collections/people/policy", {"json": {**POLICY, "retention_days": 10**20}}),
    (
        "POST",
        "/collections",
        {"json": {"name": "zz", **POLICY, "jurisdictions": ["ZZ-TOP"], "retention_days": 30}},
    ),
    (
        "POST",
        "/collections",
        {"json": {"name": "xx", **POLICY, "jurisdictions": ["XX"], "retention_days": 30}},
    ),
    ("POST", "/accounts", {"json": {"name": "a", "role": "analyst", "jurisdiction": "ZZ-TOP"}}),
    (
        "POST",
        "/consents",
        {
            "json": {
                **CONSENT,
                "scope": ["people"],
                "given_at": "2026-01-01T00:00:00Z",
                "expires_at": "2025-01-01T00:00:00Z",
            }
        },
    ),
    (
        "POST",
        "/consents",
        {"json": {**CONSENT, "scope": ["people"], "given_at": "0001-01-01T00:00:00Z"}},
    ),
    (
        "POST",
        "/consents",
        {"json": {**CONSENT, "scope": ["people"], "expires_at": "9999-12-31T23:59:59Z"}},
    ),
    ("POST", "/consents", {"json": {**CONSENT, "scope": ["peo\x00ple"]}}),
]


def _id(case: tuple[str, str, dict[str, Any]]) -> str:
    method, path, kwargs = case
    return f"{method} {path} {kwargs.get('params') or kwargs.get('json') or ''}"[:90]


@pytest.mark.parametrize(("method", "path", "kwargs"), HOSTILE, ids=[_id(c) for c in HOSTILE])
def test_given_a_hostile_input_then_a_4xx_problem_never_a_500(
    client: TestClient, tmp_path: Path, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    if "json" in kwargs and "folder" in kwargs["json"]:
        folder = kwargs["json"]["folder"].replace("{allowed}", str(tmp_path / "allowed"))
        kwargs = {"json": {**kwargs["json"], "folder": folder}}
    response = client.request(method, path, **kwargs)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json", response.text
    problem = response.json()
    assert problem["status"] == response.status_code and problem["detail"]


def test_given_a_refused_collection_then_nothing_half_made_is_left(client: TestClient) -> None:
    body = {"name": "big", **POLICY, "retention_days": 10**20}
    assert client.post("/collections", json=body).status_code == 422
    assert "big" not in client.get("/collections").json()
    assert client.post("/collections", json={**body, "retention_days": 30}).status_code == 201


def test_given_audit_limits_then_the_cap_holds(client: TestClient) -> None:
    for _ in range(3):
        client.post("/retention/runs")  # audited, so the log has more than two entries
    assert len(client.get("/audit", params={"limit": 2}).json()) == 2
    assert client.get("/audit", params={"limit": 5000}).status_code == 422


def test_openapi_schema_fuzzed_never_answers_500(client: TestClient) -> None:
    """Schemathesis: a bounded number of generated requests per operation (about a minute
    all told), each checked for a 5xx."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    failures: list[str] = []
    examples = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        strategy = operation.as_strategy()

        @settings(
            max_examples=8,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            nonlocal examples
            examples += 1
            response = case.call(headers={"X-API-Key": client.headers["X-API-Key"]})
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        # hypothesis' decorator is untyped once given a strategy: name what it returns.
        decorate = cast(Callable[[Callable[[Any], None]], Callable[[], None]], given(strategy))
        decorate(check)()
    print(f"schemathesis: {examples} examples, {len(failures)} answered 5xx")
    assert not failures, failures
