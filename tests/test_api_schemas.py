"""The response models of ``facelens.api.schemas`` against what the routes answer today: every
JSON route of the real app is called with real data (real engine, store, index and photos) and
its body must validate against its model, which forbids unknown fields and requires the rest;
and every JSON route has a model, every model a route."""

from __future__ import annotations

import json
import time
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.responses import Response

from facelens.api.app import create_app
from facelens.api.schemas import RESPONSE_MODELS, IsoTime
from facelens.config import Settings
from facelens.pipeline.analyse import FacePipeline
from facelens.privacy.policy import CollectionPolicy, LegalBasis
from facelens.security.accounts import Role, create_account
from tests.conftest import Declare

Route = tuple[str, str]
PURPOSE = {"purpose": "fraud case review", "case_ref": "CASE-42"}
POLICY = {
    "basis": "contract",
    "jurisdictions": ["GB"],
    "purpose": "fraud prevention",
    "retention_days": 365,
    "seal_locations": True,
}
CONSENT_POLICY = CollectionPolicy(LegalBasis.CONSENT, ["US-IL"], "building access", 365)

#: JSON routes each test below calls, at least (together: every JSON route of the app).
ROUTES_BY_TEST: dict[str, set[Route]] = {
    "accounts": {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("POST", "/accounts"),
        ("GET", "/accounts"),
        ("GET", "/settings"),
        ("POST", "/session"),
        ("GET", "/session"),
        ("DELETE", "/session"),
        ("GET", "/audit"),
        ("GET", "/audit/verify"),
        ("GET", "/audit/checkpoint"),
    },
    "collections": {
        ("POST", "/collections"),
        ("PUT", "/collections/{name}/policy"),
        ("GET", "/collections"),
        ("GET", "/collections/{name}"),
        ("POST", "/collections/{name}/images"),
        ("GET", "/collections/{name}/images"),
        ("GET", "/images/{image_id}"),
        ("GET", "/faces"),
        ("GET", "/faces/{face_id}"),
        ("POST", "/jobs/ingest"),
        ("GET", "/jobs/{job_id}"),
        ("DELETE", "/faces/{face_id}"),
        ("DELETE", "/images/{image_id}"),
        ("DELETE", "/collections/{name}"),
    },
    "persons and search": {
        ("POST", "/persons"),
        ("PATCH", "/persons/{person_id}"),
        ("POST", "/persons/{person_id}/faces"),
        ("POST", "/persons/{person_id}/merge"),
        ("POST", "/persons/{person_id}/split"),
        ("POST", "/persons/{person_id}/rejections"),
        ("GET", "/persons/{person_id}/rejections"),
        ("POST", "/persons/{person_id}/rejections/{face_id}/withdraw"),
        ("GET", "/persons/{person_id}/references"),
        ("GET", "/persons"),
        ("POST", "/persons/{person_id}/searches"),
        ("POST", "/searches"),
        ("GET", "/searches"),
        ("POST", "/verifications"),
        ("POST", "/jobs/search"),
        ("GET", "/jobs/search/{job_id}"),
        ("DELETE", "/persons/{person_id}"),
    },
    "people": {
        ("POST", "/clusterings"),
        ("GET", "/proposals"),
        ("POST", "/proposals/{cluster_id}/dismiss"),
        ("POST", "/proposals/{cluster_id}/accept"),
    },
    "privacy": {
        ("POST", "/consents"),
        ("GET", "/consents"),
        ("POST", "/collections/{name}/enrolments"),
        ("POST", "/consents/{consent_id}/withdraw"),
        ("POST", "/subject-requests/access"),
        ("POST", "/subject-requests/erasure"),
        ("GET", "/subject-requests/{request_id}"),
        ("POST", "/subject-requests/{request_id}/confirm"),
        ("GET", "/subject-requests/{request_id}/report"),
        ("GET", "/subject-requests"),
        ("POST", "/retention/runs"),
        ("GET", "/reports/transparency"),
    },
}


def _answers_json(returns: Any) -> bool:
    """A route answers JSON unless its return annotation is only responses (JPEG, text)."""
    options = typing.get_args(returns) if typing.get_origin(returns) is not None else ()
    if typing.get_origin(returns) in (typing.Union, types.UnionType):
        return any(_answers_json(option) for option in options)
    return not (isinstance(returns, type) and issubclass(returns, Response))


def api_routes(app: FastAPI) -> list[APIRoute]:
    """The app's routes, also those of the routers it includes (which ``app.routes`` holds as
    one entry per router), less the OpenAPI document, its pages and /ui."""
    found = [context.original_route for context in iter_route_contexts(app.routes)]
    return [route for route in found if isinstance(route, APIRoute)]


def json_routes(app: FastAPI) -> set[Route]:
    """(method, path) of every route of ``app`` that answers JSON (documentation aside)."""
    found: set[Route] = set()
    for route in api_routes(app):
        returns = typing.get_type_hints(route.endpoint).get("return")
        if _answers_json(returns):
            found |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
    return found


def _as_sent(body: Any) -> bytes:
    """``body`` as a JSONResponse renders it."""
    return json.dumps(
        body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode()


class Checked:
    """Calls routes by their declared path and checks each JSON body against its model."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.seen: set[Route] = set()

    def __call__(
        self, method: str, path: str, at: dict[str, Any] | None = None, **request: Any
    ) -> Any:
        """``path`` as the route declares it, its parameters from ``at``."""
        response = self.client.request(method, path.format(**(at or {})), **request)
        assert 200 <= response.status_code < 300, (method, path, response.text)
        assert response.headers["content-type"] == "application/json", response.headers
        body = response.json()
        model = RESPONSE_MODELS[(method, path)]
        if isinstance(model, type) and issubclass(model, BaseModel):
            parsed: Any = model.model_validate(body, strict=False)
        else:  # list[Model], list[str]
            parsed = TypeAdapter(model).validate_python(body, strict=False)
        # What FastAPI sends through the route's response_model: the same, to the byte (key
        # order and number formatting included), as the route answered before it had one.
        dumped = TypeAdapter(model).dump_python(parsed, mode="json")
        assert dumped == body, (method, path)
        assert _as_sent(dumped) == response.content, (method, path)
        self.seen.add((method, path))
        return body


@pytest.fixture
def client(tmp_path: Path, pipeline: FacePipeline, declare: Declare) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        max_image_bytes=2_000_000,
        ingest_allowed_roots=[tmp_path / "allowed"],
    )
    with TestClient(create_app(settings, pipeline)) as test_client:
        engine = test_client.app.state.service.engine  # type: ignore[attr-defined]
        declare(engine, "people")
        declare(engine, "staff", policy=CONSENT_POLICY)
        yield test_client


@pytest.fixture
def keys(client: TestClient) -> dict[Role, dict[str, str]]:
    store = client.app.state.service.engine.store  # type: ignore[attr-defined]
    return {role: {"X-API-Key": create_account(store, f"{role}-1", role)[1]} for role in Role}


@pytest.fixture
def checked(client: TestClient) -> Checked:
    return Checked(client)


def jpeg(path: Path, field: str) -> tuple[str, tuple[str, bytes, str]]:
    return (field, (path.name, path.read_bytes(), "image/jpeg"))


def upload(checked: Checked, key: dict[str, str], *paths: Path, name: str = "people") -> Any:
    files = [jpeg(p, "files") for p in paths]
    return checked(
        "POST",
        "/collections/{name}/images",
        {"name": name},
        headers=key,
        files=files,
        data={"licence_ref": "LIC-1", "origin_url": "https://example.org/a.jpg"},
    )


def test_given_the_json_routes_then_each_has_a_model_and_each_model_a_route(
    client: TestClient,
) -> None:
    routes = json_routes(client.app)  # type: ignore[arg-type]
    assert routes == set(RESPONSE_MODELS), (
        f"without a model: {sorted(routes - set(RESPONSE_MODELS))}; "
        f"a model of no route: {sorted(set(RESPONSE_MODELS) - routes)}"
    )
    assert set().union(*ROUTES_BY_TEST.values()) == routes, "a JSON route no test calls"


def test_given_a_time_then_only_iso_8601_with_an_offset_passes() -> None:
    times = TypeAdapter(IsoTime)
    assert times.validate_python("2026-01-02T03:04:05.123456+00:00").endswith("+00:00")
    for wrong in ("2026-01-02T03:04:05", "yesterday"):
        with pytest.raises(ValueError):
            times.validate_python(wrong)
    schema = times.json_schema()
    assert (schema["type"], schema["format"]) == ("string", "date-time")


def test_health_sessions_accounts_settings_and_audit(
    client: TestClient, checked: Checked, keys: dict[Role, dict[str, str]]
) -> None:
    admin = keys[Role.ADMIN]
    checked("GET", "/healthz")
    checked("GET", "/readyz")
    made = checked(
        "POST",
        "/accounts",
        headers=admin,
        json={"name": "a", "role": "analyst", "jurisdiction": "GB"},
    )
    assert made["account"]["jurisdiction"] == "GB"
    assert len(checked("GET", "/accounts", headers=admin)) == len(Role) + 1
    assert checked("GET", "/settings", headers=admin)["ingest_allowed_roots"]

    signed_in = checked("POST", "/session", data={"key": made["key"]})
    assert checked("GET", "/session")["account"]["name"] == "a"
    checked("DELETE", "/session", headers={"X-CSRF-Token": signed_in["csrf_token"]})

    auditor = keys[Role.AUDITOR]
    entries = checked("GET", "/audit", headers=auditor, params={"limit": 1000})
    assert entries and entries[0]["prev_hash"] == "0" * 64
    assert checked("GET", "/audit/verify", headers=auditor)["intact"] is True
    checked("GET", "/audit/checkpoint", headers=auditor)
    assert ROUTES_BY_TEST["accounts"] <= checked.seen


def test_collections_images_faces_and_jobs(
    client: TestClient,
    checked: Checked,
    keys: dict[Role, dict[str, str]],
    photos: Path,
    tmp_path: Path,
) -> None:
    admin, enroller = keys[Role.ADMIN], keys[Role.ENROLLER]
    checked("POST", "/collections", headers=admin, json={"name": "press", **POLICY})
    changed = checked(
        "PUT",
        "/collections/{name}/policy",
        {"name": "press"},
        headers=admin,
        json={**POLICY, "basis": "other", "basis_text": "a press archive"},
    )
    assert changed["policy"]["basis_text"] == "a press archive"
    assert checked("GET", "/collections", headers=admin) == ["people", "press", "staff"]

    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    report = upload(checked, enroller, photos / "obama.jpg", photos / "biden.jpg", text)
    assert [f["outcome"] for f in report["files"]] == ["stored", "stored", "failed"]
    assert report["failures"][0]["error"] == "unsupported_image"
    # obama.jpg also holds a blurred face-like patch in its background, stored as rejected.
    assert (report["faces_indexed_by_size"], report["faces_rejected_by_size"]) == (
        {">=128px": 2},
        {"too_blurry": {"64-128px": 1}},
    )
    counts = checked("GET", "/collections/{name}", {"name": "people"}, headers=enroller)
    assert (counts["images"], counts["policy"]["basis"]) == (2, "other")

    images = checked("GET", "/collections/{name}/images", {"name": "people"}, headers=enroller)
    image = checked(
        "GET", "/images/{image_id}", {"image_id": images[0]["image_id"]}, headers=enroller
    )
    assert image["provenance"]["licence_ref"] == "LIC-1"
    faces = checked("GET", "/faces", headers=enroller, params={"image_id": image["image_id"]})
    face = checked("GET", "/faces/{face_id}", {"face_id": faces[0]["face_id"]}, headers=enroller)
    assert face["box"]["x2"] > face["box"]["x1"]

    folder = tmp_path / "allowed" / "press"
    folder.mkdir(parents=True)
    (folder / "obama3.jpg").write_bytes((photos / "obama3.jpg").read_bytes())
    job = checked(
        "POST",
        "/jobs/ingest",
        headers=enroller,
        json={"folder": str(folder), "collection": "press"},
    )
    deadline = time.monotonic() + 60
    while True:
        state = checked("GET", "/jobs/{job_id}", {"job_id": job["job_id"]}, headers=enroller)
        if state["status"] not in {"queued", "running"} or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert state["status"] == "done" and state["report"]["faces_indexed"] == 1, state

    checked("DELETE", "/faces/{face_id}", {"face_id": face["face_id"]}, headers=enroller)
    other = images[1]["image_id"]
    checked("DELETE", "/images/{image_id}", {"image_id": other}, headers=enroller)
    gone = checked("DELETE", "/collections/{name}", {"name": "press"}, headers=admin)
    assert gone == {"faces_removed": 1}
    assert ROUTES_BY_TEST["collections"] <= checked.seen


def test_persons_searches_verification_and_search_jobs(
    client: TestClient,
    checked: Checked,
    keys: dict[Role, dict[str, str]],
    photos: Path,
    tmp_path: Path,
) -> None:
    enroller, analyst = keys[Role.ENROLLER], keys[Role.ANALYST]
    upload(checked, enroller, photos / "obama.jpg", photos / "obama3.jpg", photos / "biden.jpg")
    obama, obama3, biden = [
        i["face_ids"][0] for i in client.get("/collections/people/images", headers=enroller).json()
    ]
    first = checked("POST", "/persons", headers=enroller, json={"name": "B. Obama"})
    second = checked("POST", "/persons", headers=enroller, json={"name": "Barack"})
    person = {"person_id": first["id"]}
    checked("PATCH", "/persons/{person_id}", person, headers=enroller, json={"name": "Obama"})
    checked(
        "POST", "/persons/{person_id}/faces", person, headers=enroller, json={"face_ids": [obama]}
    )
    client.post(f"/persons/{second['id']}/faces", headers=enroller, json={"face_ids": [obama3]})
    merged = checked(
        "POST",
        "/persons/{person_id}/merge",
        person,
        headers=enroller,
        json={"other_person_id": second["id"]},
    )
    assert sorted(merged["face_ids"]) == sorted([obama, obama3])
    assert [p["name"] for p in checked("GET", "/persons", headers=enroller)] == ["Obama"]

    like = checked(
        "POST",
        "/persons/{person_id}/searches",
        person,
        headers=analyst,
        json=PURPOSE | {"top_k": 5, "collections": ["people"]},
    )
    assert [m["face_id"] for m in like["matches"]] == [biden]
    references = checked("GET", "/persons/{person_id}/references", person, headers=enroller)
    assert [f["face_id"] for f in references["faces"]] == sorted([obama, obama3])
    per_person = checked(
        "POST",
        "/searches",
        headers=analyst,
        files=[jpeg(photos / "obama2.jpg", "image")],
        data={**PURPOSE, "per_person": "true"},
    )
    [him, _] = per_person["faces"][0]["candidates"]
    assert (him["person_name"], him["faces_compared"]) == ("Obama", 2)
    found = checked(
        "POST",
        "/searches",
        headers=analyst,
        files=[jpeg(photos / "obama2.jpg", "image")],
        data={**PURPOSE, "collections": "people", "top_k": "3"},
    )
    top = found["faces"][0]["matches"][0]
    assert top["is_match"] and top["person_name"] == "Obama"
    assert (top["size_px"], top["small_face"]) == (257, False)
    assert (found["faces"][0]["probe_size_px"], found["faces"][0]["probe_small_face"]) == (
        317,
        False,
    )
    logged = checked("GET", "/searches", headers=analyst)
    assert [r["id"] for r in logged] == [
        found["search_id"],
        per_person["search_id"],
        like["search_id"],
    ]
    same = checked(
        "POST",
        "/verifications",
        headers=analyst,
        files=[jpeg(photos / "obama.jpg", "first"), jpeg(photos / "obama2.jpg", "second")],
    )
    assert same["same_person"] is True

    probes = tmp_path / "allowed" / "probes"
    probes.mkdir(parents=True)
    (probes / "obama2.jpg").write_bytes((photos / "obama2.jpg").read_bytes())
    (probes / "notes.jpg").write_text("not a photo")
    body = {"probes": [str(probes)], **PURPOSE}
    job = checked("POST", "/jobs/search", headers=analyst, json=body)
    deadline = time.monotonic() + 60
    while True:
        state = checked("GET", "/jobs/search/{job_id}", {"job_id": job["job_id"]}, headers=analyst)
        if state["status"] not in {"queued", "running"} or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert state["status"] == "done", state
    failed, searched = state["results"]
    assert failed["error"]["code"] == "unsupported_image" and failed["result"] is None
    assert searched["result"]["faces"][0]["matches"][0]["person_name"] == "Obama"

    # Reviewer feedback: not this person (and its withdrawal), and a split (merged back).
    rejected = checked(
        "POST", "/persons/{person_id}/rejections", person, headers=enroller, json={"face_id": biden}
    )
    assert rejected["face_id"] == biden and rejected["withdrawn_at"] is None
    assert checked("GET", "/persons/{person_id}/rejections", person, headers=enroller) == [rejected]
    withdrawn = checked(
        "POST",
        "/persons/{person_id}/rejections/{face_id}/withdraw",
        {**person, "face_id": biden},
        headers=enroller,
    )
    assert withdrawn["withdrawn_by"] == rejected["rejected_by"]
    split = checked(
        "POST",
        "/persons/{person_id}/split",
        person,
        headers=enroller,
        json={"face_ids": [obama3], "name": "Barack"},
    )
    assert (split["person"]["face_ids"], split["new_person"]["face_ids"]) == ([obama], [obama3])
    other = {"other_person_id": split["new_person"]["id"]}
    client.post(f"/persons/{first['id']}/merge", headers=enroller, json=other)

    removed = checked("DELETE", "/persons/{person_id}", person, headers=enroller)
    assert removed == {"faces_removed": 2}
    assert ROUTES_BY_TEST["persons and search"] <= checked.seen


def test_clustering_and_proposed_persons(
    client: TestClient, checked: Checked, keys: dict[Role, dict[str, str]], photos: Path
) -> None:
    enroller = keys[Role.ENROLLER]
    upload(checked, enroller, photos / "obama.jpg", photos / "obama3.jpg", photos / "biden.jpg")
    summary = checked("POST", "/clusterings", headers=enroller, json={"collection": "people"})
    assert (summary["clusters_proposed"], summary["faces_left_single"]) == (1, 1)
    [proposal] = checked("GET", "/proposals", headers=enroller)
    at = {"cluster_id": proposal["cluster_id"]}
    dismissed = checked("POST", "/proposals/{cluster_id}/dismiss", at, headers=enroller)
    assert (
        dismissed["status"] == "dismissed" and checked("GET", "/proposals", headers=enroller) == []
    )
    person = checked(
        "POST", "/proposals/{cluster_id}/accept", at, headers=enroller, json={"name": "Obama"}
    )
    assert person["face_ids"] == proposal["face_ids"]
    assert client.get("/proposals?dismissed=true", headers=enroller).json() == []
    assert ROUTES_BY_TEST["people"] <= checked.seen


def test_consent_enrolment_subject_requests_retention_and_reports(
    client: TestClient, checked: Checked, keys: dict[Role, dict[str, str]], photos: Path
) -> None:
    admin, enroller = keys[Role.ADMIN], keys[Role.ENROLLER]
    consent = checked(
        "POST",
        "/consents",
        headers=enroller,
        json={
            "subject_ref": "employee 77",
            "purpose": "building access",
            "scope": ["staff"],
            "evidence_ref": "form HR-77",
            "expires_at": "2099-01-01T00:00:00Z",
        },
    )
    enrolled = checked(
        "POST",
        "/collections/{name}/enrolments",
        {"name": "staff"},
        headers=enroller,
        data={"person_name": "Joe Biden", "consent_id": str(consent["id"])},
        files=[jpeg(photos / "biden.jpg", "photos")],
    )
    assert checked("GET", "/consents", headers=enroller)[0]["person_id"] == enrolled["id"]
    withdrawn = checked(
        "POST", "/consents/{consent_id}/withdraw", {"consent_id": consent["id"]}, headers=enroller
    )
    assert withdrawn["faces_erased"] == enrolled["face_ids"]

    upload(checked, enroller, photos / "obama.jpg", photos / "obama3.jpg", photos / "biden.jpg")
    opened = checked(
        "POST",
        "/subject-requests/access",
        headers=admin,
        files=[jpeg(photos / "obama2.jpg", "photos")],
        data={"request_ref": "SAR-1"},
    )
    assert opened["rule"] is not None and len(opened["candidates"]) == 2
    request = {"request_id": opened["request"]["id"]}
    review = checked("GET", "/subject-requests/{request_id}", request, headers=admin)
    kept = review["candidates"][0]["face_id"]
    done = checked(
        "POST",
        "/subject-requests/{request_id}/confirm",
        request,
        headers=admin,
        json={"face_ids": [kept]},
    )
    assert done["status"] == "completed"
    report = checked("GET", "/subject-requests/{request_id}/report", request, headers=admin)
    assert [f["face_id"] for f in report["faces"]] == [kept]

    erasure = checked(
        "POST",
        "/subject-requests/erasure",
        headers=admin,
        files=[jpeg(photos / "biden.jpg", "photos")],
        data={"request_ref": "ERASE-1"},
    )
    erased = client.post(
        f"/subject-requests/{erasure['request']['id']}/confirm",
        headers=admin,
        json={"face_ids": [c["face_id"] for c in erasure["candidates"]]},
    )
    RESPONSE_MODELS[("POST", "/subject-requests/{request_id}/confirm")].model_validate(
        erased.json(), strict=False
    )
    assert erased.json()["faces_erased"] == 1
    listed = checked("GET", "/subject-requests", headers=admin)
    assert sorted(r["kind"] for r in listed) == ["access", "erasure"]

    checked("POST", "/retention/runs", headers=admin)
    counted = checked(
        "GET", "/reports/transparency", headers=keys[Role.AUDITOR], params={"since": "2020-01-01"}
    )
    assert counted["consent_withdrawals"] == 1
    assert ROUTES_BY_TEST["privacy"] <= checked.seen


def test_given_a_body_with_a_field_too_many_or_too_few_then_its_model_refuses_it() -> None:
    model = RESPONSE_MODELS[("DELETE", "/images/{image_id}")]
    model.model_validate({"faces_removed": 1}, strict=False)
    for wrong in ({}, {"faces_removed": 1, "images_removed": 1}):
        with pytest.raises(ValidationError):
            model.model_validate(wrong, strict=False)


def test_given_every_model_as_a_response_model_then_openapi_describes_its_fields() -> None:
    """Each model works as ``response_model`` of its route, on its own."""
    app = FastAPI()
    for (method, path), model in RESPONSE_MODELS.items():
        app.add_api_route(path, lambda: None, methods=[method], response_model=model)
    document = app.openapi()
    operation = document["paths"]["/searches"]["post"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    fields = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]["properties"]
    assert {
        "search_id",
        "threshold",
        "model",
        "faces",
        "faces_rejected",
        "probe_turned_degrees",
        "decision",
        "person_fusion",
        "fused_probe_sha256",
    } == set(fields)
    schemas = document["components"]["schemas"]
    assert {"size_px", "small_face", "normalised_score"} <= set(schemas["MatchOut"]["properties"])
    assert {"rule", "threshold", "target_fpir", "expected_false_candidates"} <= set(
        schemas["SearchDecisionOut"]["properties"]
    )
    assert {"probe_size_px", "probe_small_face"} <= set(schemas["ProbeFaceOut"]["properties"])
    report = schemas["IngestReportOut"]["properties"]
    assert "32-40px" in report["faces_indexed_by_size"]["description"]
    assert report["faces_rejected_by_size"]["additionalProperties"] == {
        "additionalProperties": {"type": "integer"},
        "type": "object",
    }
    settings = document["components"]["schemas"]["SettingsOut"]["properties"]
    assert set(settings) == set(Settings.model_fields)


def test_given_the_app_then_every_json_route_answers_through_its_model(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data"))
    routes = {
        (method, route.path): route for route in api_routes(app) for method in route.methods or ()
    }
    assert json_routes(app) == set(RESPONSE_MODELS)
    for key in json_routes(app):
        assert routes[key].response_model == RESPONSE_MODELS[key], key


def test_given_the_openapi_document_then_every_json_route_declares_its_schema(
    tmp_path: Path,
) -> None:
    """What clients generate code from: a JSON schema for every route that answers JSON."""
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"))) as test_client:
        document = test_client.get("/openapi.json").json()
    components = document["components"]["schemas"]
    routes = json_routes(test_client.app)  # type: ignore[arg-type]
    assert routes
    for method, path in routes:
        responses = document["paths"][path][method.lower()]["responses"]
        success = [code for code in responses if code.startswith("2")]
        assert len(success) == 1, (method, path, responses)
        schema = responses[success[0]]["content"]["application/json"].get("schema")
        assert schema, (method, path)  # not missing, not the empty schema {}
        ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
        if ref is not None:
            assert components[ref.rsplit("/", 1)[-1]]["properties"], (method, path)
        else:  # list[str]: the collections' names
            assert schema == {"type": "array", "items": {"type": "string"}, "title": ANY}, schema
    report = document["paths"]["/subject-requests/{request_id}/report"]["get"]
    assert set(report["responses"]["200"]["content"]) == {"application/json", "application/zip"}
    # The routes that answer bytes say which, rather than an empty JSON schema.
    binary = {
        "/faces/{face_id}/thumbnail": "image/jpeg",
        "/faces/{face_id}/source": "image/jpeg",
        "/subject-requests/{request_id}/candidates/{face_id}/crop": "image/jpeg",
        "/metrics": "text/plain",
    }
    for path, media_type in binary.items():
        assert set(document["paths"][path]["get"]["responses"]["200"]["content"]) == {media_type}
