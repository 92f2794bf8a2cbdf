"""The HTTP API through FastAPI's test client, on the real engine, store and index, with real
photos: roles, uploads, search with its log, problem details, and the authorisation matrix."""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from PIL import Image

from facelens.api.app import create_app
from facelens.cli.main import EXIT_INGEST_FAILURES
from facelens.config import Settings
from facelens.pipeline.analyse import FacePipeline
from facelens.privacy.rights import confirm, open_request
from facelens.security.accounts import PERMISSIONS, Action, Role, create_account
from tests.conftest import Cli, Declare

PURPOSE = {"purpose": "fraud case review", "case_ref": "CASE-42"}


#: A collection's legal basis, as the API takes it.
POLICY = {
    "basis": "contract",
    "jurisdictions": ["GB"],
    "purpose": "fraud prevention",
    "retention_days": 365,
}


@pytest.fixture
def client(tmp_path: Path, pipeline: FacePipeline, declare: Declare) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", max_image_bytes=2_000_000)
    with TestClient(create_app(settings, pipeline)) as test_client:
        declare(test_client.app.state.service.engine, "people", "web")  # type: ignore[attr-defined]
        yield test_client


@pytest.fixture
def keys(client: TestClient) -> dict[Role, dict[str, str]]:
    """A header with an API key for an account of every role."""
    store = client.app.state.service.engine.store  # type: ignore[attr-defined]
    return {role: {"X-API-Key": create_account(store, f"{role}-1", role)[1]} for role in Role}


def upload(client: TestClient, key: dict[str, str], *paths: Path) -> Any:
    files = [("files", (p.name, p.read_bytes(), "image/jpeg")) for p in paths]
    return client.post(
        "/collections/people/images", headers=key, files=files, data={"licence_ref": "LIC-1"}
    )


def search(client: TestClient, key: dict[str, str], photo: Path, **form: str) -> Any:
    files = {"image": (photo.name, photo.read_bytes(), "image/jpeg")}
    return client.post("/searches", headers=key, files=files, data={**PURPOSE, **form})


def test_given_uploads_when_an_analyst_searches_then_the_person_is_first_with_the_source(
    client: TestClient, keys: dict[Role, dict[str, str]], photos: Path
) -> None:
    ingested = upload(client, keys[Role.ENROLLER], photos / "obama.jpg", photos / "biden.jpg")
    assert ingested.status_code == 201, ingested.text
    assert ingested.json()["faces_indexed"] == 2

    found = search(client, keys[Role.ANALYST], photos / "obama2.jpg")
    assert found.status_code == 200, found.text
    body = found.json()
    top = body["faces"][0]["matches"][0]
    assert top["is_match"] and top["similarity"] > 0.93
    assert top["thumbnail_url"] == f"/faces/{top['face_id']}/thumbnail"
    thumbnail = client.get(top["thumbnail_url"], headers=keys[Role.ANALYST])
    assert thumbnail.headers["content-type"] == "image/jpeg"
    assert top["collection"] == "people" and top["provenance"]["licence_ref"] == "LIC-1"
    source = Path(top["image_location"])
    assert source.read_bytes() == (photos / "obama.jpg").read_bytes(), "the kept upload"
    assert body["search_id"] >= 1


def test_given_searches_then_the_log_says_who_why_and_how_many_and_who_may_read_it(
    client: TestClient, keys: dict[Role, dict[str, str]], photos: Path
) -> None:
    upload(client, keys[Role.ENROLLER], photos / "obama.jpg")
    assert search(client, keys[Role.ANALYST], photos / "obama2.jpg").status_code == 200
    store = client.app.state.service.engine.store  # type: ignore[attr-defined]
    other = {"X-API-Key": create_account(store, "analyst-2", Role.ANALYST)[1]}
    assert search(client, other, photos / "biden.jpg").status_code == 200

    own = client.get("/searches", headers=keys[Role.ANALYST]).json()
    # The probe is tied to the search by its embedding's hash, and the faces shown by id.
    engine = client.app.state.service.engine  # type: ignore[attr-defined]
    pipeline = engine.pipeline
    analysed = pipeline.analyse(pipeline.load(photos / "obama2.jpg"), probe=True)
    probe = analysed.accepted_faces[0].embedding.vector
    assert own[0]["probe_sha256"] == [hashlib.sha256(probe.tobytes()).hexdigest()]
    assert own[0]["result_face_ids"] == [1]
    assert [(r["account_name"], r["case_ref"], r["purpose"]) for r in own] == [
        ("analyst-1", "CASE-42", "fraud case review")
    ]
    assert own[0]["probe_faces"] == 1 and own[0]["matches"] == 1
    for reader in (Role.AUDITOR, Role.ADMIN):
        everyone = client.get("/searches", headers=keys[reader]).json()
        assert [r["account_name"] for r in everyone] == ["analyst-2", "analyst-1"]
    assert client.get("/searches", headers=keys[Role.ENROLLER]).status_code == 403


@pytest.mark.parametrize("missing", ["purpose", "case_ref"])
def test_given_a_search_without_purpose_or_case_then_refused_as_a_problem(
    client: TestClient, keys: dict[Role, dict[str, str]], photos: Path, missing: str
) -> None:
    """A search without a purpose or a case reference is a refusal by the rule ``purpose``:
    a problem naming the rule, audited, and counted in the transparency report."""
    form = {k: v for k, v in PURPOSE.items() if k != missing}
    files = {"image": ("obama.jpg", (photos / "obama.jpg").read_bytes(), "image/jpeg")}
    response = client.post("/searches", headers=keys[Role.ANALYST], files=files, data=form)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 403 and problem["instance"] == "/searches"
    assert (problem["type"], problem["rule"]) == ("/problems/purpose_required", "purpose")
    assert "purpose" in problem["detail"] and "case_ref" in problem["detail"]
    blank = client.post(
        "/persons/1/searches", headers=keys[Role.ANALYST], json={**form, missing: "  "}
    )
    assert (blank.status_code, blank.json()["rule"]) == (403, "purpose")
    assert client.get("/searches", headers=keys[Role.ADMIN]).json() == [], "nothing logged"
    report = client.get(
        "/reports/transparency", headers=keys[Role.AUDITOR], params={"since": "2026-01-01"}
    ).json()
    assert report["refusals_by_rule"] == {"purpose": 2}


def test_given_bad_probes_then_each_gets_a_problem_naming_what_is_wrong(
    client: TestClient, keys: dict[Role, dict[str, str]], photos: Path, tmp_path: Path
) -> None:
    analyst = keys[Role.ANALYST]
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff" * 2_000_001)
    cases = {text: (415, "unsupported_image"), big: (413, "image_too_large")}
    for path, (status, code) in cases.items():
        response = search(client, analyst, path)
        assert (response.status_code, response.json()["type"]) == (status, f"/problems/{code}")
        assert response.json()["detail"]
    unauthenticated = client.get("/collections")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["type"] == "/problems/unauthenticated"
    wrong = client.get("/collections", headers={"X-API-Key": "fl_1_not-the-secret"})
    assert wrong.status_code == 401


def test_given_a_batch_with_a_bad_file_then_the_rest_is_ingested(
    client: TestClient, keys: dict[Role, dict[str, str]], photos: Path, tmp_path: Path
) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    report = upload(client, keys[Role.ENROLLER], photos / "obama.jpg", text).json()
    assert report["images_ingested"] == 1 and report["faces_indexed"] == 1
    assert [f["error"] for f in report["failures"]] == ["unsupported_image"]


# --- the authorisation matrix -----------------------------------------------------------------

#: Every route, the action it needs (None: open to all), and a request that is valid enough to
#: get past validation when allowed.
ROUTES: list[tuple[str, str, Action | None, dict[str, Any]]] = [
    ("GET", "/", None, {}),
    ("GET", "/healthz", None, {}),
    ("GET", "/session", None, {}),
    ("DELETE", "/session", None, {}),
    ("GET", "/faces/1/thumbnail", Action.SEARCH, {}),
    ("GET", "/faces/1/source", Action.SEARCH, {}),
    ("GET", "/faces/1", Action.BROWSE, {}),
    ("GET", "/faces", Action.BROWSE, {"params": {"image_id": 1}}),
    ("GET", "/settings", Action.MANAGE_ACCOUNTS, {}),
    ("GET", "/audit", Action.READ_AUDIT, {}),
    ("GET", "/audit/verify", Action.READ_AUDIT, {}),
    ("GET", "/audit/checkpoint", Action.READ_AUDIT, {}),
    ("DELETE", "/faces/1", Action.DELETE, {}),
    ("GET", "/collections/c/images", Action.BROWSE, {}),
    ("GET", "/images/1", Action.BROWSE, {}),
    ("DELETE", "/images/1", Action.DELETE, {}),
    ("POST", "/jobs/ingest", Action.INGEST, {"json": {"folder": "/tmp", "collection": "c"}}),
    ("GET", "/jobs/1", Action.INGEST, {}),
    ("POST", "/jobs/search", Action.SEARCH, {"json": {"probes": ["/tmp"], **PURPOSE}}),
    ("GET", "/jobs/search/1", Action.SEARCH, {}),
    ("GET", "/persons", Action.BROWSE, {}),
    ("POST", "/persons", Action.INGEST, {"json": {"name": "p"}}),
    ("PATCH", "/persons/1", Action.INGEST, {"json": {"name": "q"}}),
    ("POST", "/persons/1/faces", Action.INGEST, {"json": {"face_ids": [1]}}),
    ("POST", "/persons/1/merge", Action.INGEST, {"json": {"other_person_id": 2}}),
    ("POST", "/persons/1/split", Action.INGEST, {"json": {"face_ids": [1], "name": "s"}}),
    ("GET", "/persons/1/rejections", Action.BROWSE, {}),
    ("POST", "/persons/1/rejections", Action.INGEST, {"json": {"face_id": 1}}),
    ("POST", "/persons/1/rejections/1/withdraw", Action.INGEST, {}),
    ("GET", "/persons/1/references", Action.BROWSE, {}),
    ("DELETE", "/persons/1", Action.DELETE, {}),
    ("POST", "/clusterings", Action.INGEST, {"json": {}}),
    ("GET", "/proposals", Action.BROWSE, {}),
    ("POST", "/proposals/1/accept", Action.INGEST, {"json": {"name": "p"}}),
    ("POST", "/proposals/1/dismiss", Action.INGEST, {}),
    (
        "POST",
        "/persons/1/searches",
        Action.SEARCH,
        {"json": {"purpose": "check", "case_ref": "C-1"}},
    ),
    ("GET", "/readyz", None, {}),
    ("GET", "/metrics", Action.MANAGE_ACCOUNTS, {}),
    ("GET", "/accounts", Action.MANAGE_ACCOUNTS, {}),
    ("POST", "/accounts", Action.MANAGE_ACCOUNTS, {"json": {"name": "x", "role": "analyst"}}),
    ("GET", "/collections", Action.VIEW_COLLECTIONS, {}),
    ("POST", "/collections", Action.MANAGE_COLLECTIONS, {"json": {"name": "c", **POLICY}}),
    ("PUT", "/collections/c/policy", Action.MANAGE_COLLECTIONS, {"json": POLICY}),
    (
        "POST",
        "/collections/c/enrolments",
        Action.INGEST,
        {"files": [("photos", ("a.jpg", b"x"))], "data": {"person_name": "p"}},
    ),
    (
        "POST",
        "/consents",
        Action.MANAGE_CONSENT,
        {"json": {"subject_ref": "s", "purpose": "p-p", "scope": ["c"], "evidence_ref": "e"}},
    ),
    ("GET", "/consents", Action.MANAGE_CONSENT, {}),
    ("POST", "/consents/1/withdraw", Action.MANAGE_CONSENT, {}),
    (
        "POST",
        "/subject-requests/access",
        Action.HANDLE_SUBJECT_REQUESTS,
        {"files": {"photos": ("a.jpg", b"x")}, "data": {"request_ref": "R-1"}},
    ),
    (
        "POST",
        "/subject-requests/erasure",
        Action.HANDLE_SUBJECT_REQUESTS,
        {"files": {"photos": ("a.jpg", b"x")}, "data": {"request_ref": "R-1"}},
    ),
    ("GET", "/subject-requests/1", Action.HANDLE_SUBJECT_REQUESTS, {}),
    ("GET", "/subject-requests/1/candidates/1/crop", Action.HANDLE_SUBJECT_REQUESTS, {}),
    (
        "POST",
        "/subject-requests/1/confirm",
        Action.HANDLE_SUBJECT_REQUESTS,
        {"json": {"face_ids": [1]}},
    ),
    ("GET", "/subject-requests/1/report", Action.HANDLE_SUBJECT_REQUESTS, {}),
    ("GET", "/subject-requests", Action.HANDLE_SUBJECT_REQUESTS, {}),
    ("POST", "/retention/runs", Action.RUN_RETENTION, {}),
    (
        "GET",
        "/reports/transparency",
        Action.READ_REPORTS,
        {"params": {"since": "2026-01-01"}},
    ),
    ("DELETE", "/collections/c", Action.MANAGE_COLLECTIONS, {}),
    ("GET", "/collections/c", Action.VIEW_COLLECTIONS, {}),
    ("POST", "/collections/c/images", Action.INGEST, {"files": [("files", ("a.jpg", b"x"))]}),
    ("POST", "/searches", Action.SEARCH, {"files": {"image": ("a.jpg", b"x")}, "data": PURPOSE}),
    ("GET", "/searches", Action.READ_OWN_SEARCHES, {}),
    (
        "POST",
        "/verifications",
        Action.SEARCH,
        {"files": {"first": ("a.jpg", b"x"), "second": ("b.jpg", b"x")}},
    ),
]


def _template(path: str) -> str:
    """The route template of a concrete path in ROUTES."""
    parts = path.split("/")
    names = {"faces": "{face_id}", "images": "{image_id}", "jobs": "{job_id}", "search": "{job_id}",
             "persons": "{person_id}", "collections": "{name}", "consents": "{consent_id}",
             "subject-requests": "{request_id}", "candidates": "{face_id}",
             "rejections": "{face_id}", "proposals": "{cluster_id}"}  # fmt: skip
    for i in range(1, len(parts)):
        if parts[i - 1] in names and parts[i] in {"1", "c"}:
            parts[i] = names[parts[i - 1]]
    return "/".join(parts)


def test_every_route_in_the_matrix_is_a_route_of_the_app(client: TestClient) -> None:
    documentation = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
    served = {
        (method, path)
        # Through the routers the app includes (``app.routes`` has one entry per router).
        for route in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
        if (path := route.path or "") not in documentation
        for method in route.methods or ()
        if method != "HEAD"
    }
    listed = {(m, _template(p)) for m, p, _, _ in ROUTES}
    signing_in = ("POST", "/session")  # takes the key in its form: tested on its own
    assert listed | {signing_in} == served


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(("method", "path", "action", "request_kwargs"), ROUTES)
def test_authorisation_matrix(
    client: TestClient,
    keys: dict[Role, dict[str, str]],
    role: Role,
    method: str,
    path: str,
    action: Action | None,
    request_kwargs: dict[str, Any],
) -> None:
    response = client.request(method, path, headers=keys[role], **request_kwargs)
    may = action is None or action in PERMISSIONS[role]
    if action is Action.READ_OWN_SEARCHES:  # the log: also whoever may read everyone's
        may = may or Action.READ_ALL_SEARCHES in PERMISSIONS[role]
    if may:
        assert response.status_code != 401, response.text
        if response.status_code == 403:  # refused for another reason than the role
            assert response.json()["type"] != "/problems/forbidden", response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["type"] == "/problems/forbidden"
    if action is not None or (path == "/session" and method == "GET"):
        assert client.request(method, path, **request_kwargs).status_code == 401


def test_given_a_web_sign_in_then_the_cookie_works_and_changes_need_the_csrf_token(
    client: TestClient, keys: dict[Role, dict[str, str]], photos: Path
) -> None:
    refused = client.post("/session", data={"key": "fl_1_wrong"})
    assert refused.status_code == 401 and "facelens_session" not in refused.cookies
    signed_in = client.post("/session", data={"key": keys[Role.ENROLLER]["X-API-Key"]})
    assert signed_in.status_code == 200
    assert "httponly" in signed_in.headers["set-cookie"].lower()
    csrf = signed_in.json()["csrf_token"]
    assert client.get("/session").json()["account"]["role"] == "enroller"

    files = [("files", ("obama.jpg", (photos / "obama.jpg").read_bytes(), "image/jpeg"))]
    without = client.post("/collections/web/images", files=files)
    assert without.status_code == 403 and "CSRF" in without.json()["detail"]
    with_token = client.post("/collections/web/images", files=files, headers={"X-CSRF-Token": csrf})
    assert with_token.status_code == 201, with_token.text
    # The upload keeps its own name, under its content hash.
    face = client.app.state.service.engine.store.face_records([1])[1]  # type: ignore[attr-defined]
    assert Path(face.image_location).name == "obama.jpg"

    client.delete("/session", headers={"X-CSRF-Token": csrf})
    assert client.get("/session").status_code == 401


def test_given_a_found_face_then_its_thumbnail_and_source_are_jpegs(
    client: TestClient, keys: dict[Role, dict[str, str]], photos: Path
) -> None:
    upload(client, keys[Role.ENROLLER], photos / "obama.jpg")
    face_id = search(client, keys[Role.ANALYST], photos / "obama2.jpg").json()["faces"][0][
        "matches"
    ][0]["face_id"]
    thumbnail = client.get(f"/faces/{face_id}/thumbnail", headers=keys[Role.ANALYST])
    source = client.get(f"/faces/{face_id}/source", headers=keys[Role.ANALYST])
    for response in (thumbnail, source):
        assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumbnail.content)).size[0] <= 160
    assert Image.open(io.BytesIO(source.content)).size == Image.open(photos / "obama.jpg").size
    missing = client.get("/faces/999/thumbnail", headers=keys[Role.ANALYST])
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/not_found"


def test_given_the_home_page_then_the_web_interface_is_served_without_a_key(
    client: TestClient,
) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "<title>facelens</title>" in page.text
    assert client.get("/ui/js/app.js").status_code == 200
    assert client.get("/ui/favicon.svg").headers["content-type"].startswith("image/svg+xml")


def test_given_images_then_they_are_listed_shown_and_deleted_with_their_faces(
    client: TestClient, keys: dict[Role, dict[str, str]], photos: Path
) -> None:
    upload(client, keys[Role.ENROLLER], photos / "obama.jpg", photos / "biden.jpg")
    counts = client.get("/collections/people", headers=keys[Role.ANALYST]).json()
    assert counts["images"] == 2 and counts["faces_indexed"] == 2
    assert counts["policy"]["basis"] == "other" and counts["policy"]["retention_days"] == 30
    assert client.get("/collections/nobody", headers=keys[Role.ANALYST]).status_code == 404
    listed = client.get("/collections/people/images", headers=keys[Role.ENROLLER]).json()
    assert [Path(i["location"]).name for i in listed] == ["obama.jpg", "biden.jpg"]
    obama = listed[0]
    assert obama["provenance"]["licence_ref"] == "LIC-1" and len(obama["face_ids"]) == 1
    face = client.get(f"/faces/{obama['face_ids'][0]}", headers=keys[Role.ENROLLER]).json()
    assert face["image_id"] == obama["image_id"] and face["collection"] == "people"
    of_image = client.get(
        "/faces", headers=keys[Role.ENROLLER], params={"image_id": obama["image_id"]}
    ).json()
    assert [f["face_id"] for f in of_image] == obama["face_ids"]
    assert client.get("/faces", headers=keys[Role.ENROLLER]).status_code == 422

    gone = client.delete(f"/images/{obama['image_id']}", headers=keys[Role.ENROLLER])
    assert gone.json() == {"faces_removed": 1}
    browser = keys[Role.ENROLLER]
    assert client.get(f"/images/{obama['image_id']}", headers=browser).status_code == 404
    found = search(client, keys[Role.ANALYST], photos / "obama2.jpg").json()
    assert [m["image_location"] for m in found["faces"][0]["matches"]] == [listed[1]["location"]], (
        "only Biden is left to find"
    )
    biden_face = listed[1]["face_ids"][0]
    assert client.delete(f"/faces/{biden_face}", headers=keys[Role.ENROLLER]).json() == {
        "faces_removed": 1
    }
    assert client.get(f"/faces/{biden_face}", headers=browser).status_code == 404


def test_given_persons_then_named_assigned_renamed_merged_searched_and_deleted(
    client: TestClient, keys: dict[Role, dict[str, str]], photos: Path
) -> None:
    enroller, analyst = keys[Role.ENROLLER], keys[Role.ANALYST]
    upload(client, enroller, photos / "obama.jpg", photos / "obama3.jpg", photos / "biden.jpg")
    obama, obama3, biden = [
        i["face_ids"][0] for i in client.get("/collections/people/images", headers=enroller).json()
    ]
    first = client.post("/persons", headers=enroller, json={"name": "B. Obama"}).json()
    second = client.post("/persons", headers=enroller, json={"name": "Barack"}).json()
    client.post(f"/persons/{first['id']}/faces", headers=enroller, json={"face_ids": [obama]})
    client.post(f"/persons/{second['id']}/faces", headers=enroller, json={"face_ids": [obama3]})
    merged = client.post(
        f"/persons/{first['id']}/merge", headers=enroller, json={"other_person_id": second["id"]}
    ).json()
    assert sorted(merged["face_ids"]) == sorted([obama, obama3])
    renamed = client.patch(f"/persons/{first['id']}", headers=enroller, json={"name": "Obama"})
    assert renamed.json()["name"] == "Obama"
    assert [p["name"] for p in client.get("/persons", headers=enroller).json()] == ["Obama"]

    client.post("/persons", headers=enroller, json={"name": "Biden"})
    biden_person = client.get("/persons", headers=enroller).json()[0]
    client.post(
        f"/persons/{biden_person['id']}/faces", headers=enroller, json={"face_ids": [biden]}
    )
    # Search by person: faces like Biden's, other than his own, logged like any search.
    result = client.post(
        f"/persons/{biden_person['id']}/searches", headers=analyst, json=PURPOSE | {"top_k": 5}
    ).json()
    assert {m["face_id"] for m in result["matches"]} == {obama, obama3}
    assert not any(m["is_match"] for m in result["matches"])
    assert client.get("/searches", headers=analyst).json()[0]["case_ref"] == "CASE-42"

    assert client.delete(f"/persons/{first['id']}", headers=enroller).json() == {"faces_removed": 2}
    assert (
        client.patch(f"/persons/{first['id']}", headers=enroller, json={"name": "x"}).status_code
        == 404
    )


def finished_job(client: TestClient, key: dict[str, str], job_id: int) -> Any:
    """The job's state once it is no longer queued or running (a minute at most)."""
    deadline = time.monotonic() + 60
    while (state := client.get(f"/jobs/{job_id}", headers=key).json())["status"] in {
        "queued",
        "running",
    } and time.monotonic() < deadline:
        time.sleep(0.2)
    return state


def test_given_a_folder_job_then_it_ingests_in_the_background_and_only_under_allowed_roots(
    tmp_path: Path, pipeline: FacePipeline, photos: Path, declare: Declare
) -> None:
    root = tmp_path / "allowed"
    (root / "press").mkdir(parents=True)
    for name in ("obama.jpg", "biden.jpg"):
        (root / "press" / name).write_bytes((photos / name).read_bytes())
    (tmp_path / "secret").mkdir()
    settings = Settings(data_dir=tmp_path / "data", ingest_allowed_roots=[root])
    with TestClient(create_app(settings, pipeline)) as client:
        store = client.app.state.service.engine.store  # type: ignore[attr-defined]
        key = {"X-API-Key": create_account(store, "enroller", Role.ENROLLER)[1]}
        declare(client.app.state.service.engine, "press")  # type: ignore[attr-defined]
        for outside in (str(tmp_path / "secret"), str(root / ".." / "secret"), "/etc"):
            refused = client.post(
                "/jobs/ingest", headers=key, json={"folder": outside, "collection": "c"}
            )
            assert refused.status_code == 403, outside
            assert refused.json()["type"] == "/problems/folder_not_allowed"
        job = client.post(
            "/jobs/ingest", headers=key, json={"folder": str(root / "press"), "collection": "press"}
        ).json()
        state = finished_job(client, key, job["job_id"])
        assert state["status"] == "done", state
        assert (state["files_done"], state["files_total"]) == (2, 2)
        assert state["report"]["faces_indexed"] == 2


def test_given_too_many_requests_then_429_with_retry_after(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    settings = Settings(data_dir=tmp_path / "data", rate_limit_per_minute=3)
    with TestClient(create_app(settings, pipeline)) as client:
        store = client.app.state.service.engine.store  # type: ignore[attr-defined]
        key = {"X-API-Key": create_account(store, "analyst", Role.ANALYST)[1]}
        statuses = [client.get("/collections", headers=key).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = client.get("/collections", headers=key)
        assert limited.json()["type"] == "/problems/rate_limited"
        assert "rate_limit_per_minute" in limited.json()["detail"]
        assert 1 <= int(limited.headers["Retry-After"]) <= 60


def utc_stamps(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Every (key, value) of ``value`` whose key names a time (``*_at``, ``at``)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from utc_stamps(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from utc_stamps(v, key)
    elif isinstance(value, str) and (key == "at" or key.endswith("_at")):
        yield key, value


def test_given_stored_times_then_the_api_gives_them_with_their_utc_offset(
    client: TestClient, keys: dict[Role, dict[str, str]], photos: Path
) -> None:
    uploaded = upload(client, keys[Role.ENROLLER], photos / "obama.jpg")
    assert uploaded.status_code == 201, uploaded.text
    assert search(client, keys[Role.ANALYST], photos / "obama2.jpg").status_code == 200
    admin = keys[Role.ADMIN]
    answers = [
        client.get("/collections/people/images", headers=admin).json(),
        client.get("/searches", headers=admin).json(),
        client.get("/audit", headers=admin).json(),
    ]
    stamps = [s for answer in answers for s in utc_stamps(answer)]
    keys_seen = {k for k, _ in stamps}
    assert {"ingested_at", "searched_at", "at"} <= keys_seen, keys_seen
    for key, stamp in stamps:
        assert stamp.endswith(("+00:00", "Z")), (key, stamp)
    assert client.get("/audit/verify", headers=admin).json()["intact"] is True


# --- what an upload leaves behind, and what it says --------------------------------------


def test_given_an_upload_then_each_file_is_reported_and_only_stored_ones_stay_in_uploads(
    client: TestClient, keys: dict[Role, dict[str, str]], photos: Path, tmp_path: Path
) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    copy = tmp_path / "again.jpg"
    copy.write_bytes((photos / "obama.jpg").read_bytes())
    answer = upload(client, keys[Role.ENROLLER], photos / "obama.jpg", text, copy)
    assert answer.status_code == 201, answer.text
    outcomes = [(f["file"], f["outcome"]) for f in answer.json()["files"]]
    assert outcomes == [
        ("obama.jpg", "stored"),
        ("notes.jpg", "failed"),
        ("again.jpg", "duplicate"),
    ]
    assert answer.json()["files"][1]["error"] == "unsupported_image"
    # The uploader is told of their file by its name, never by the server's path (issue 17).
    [failure] = answer.json()["failures"]
    assert failure["location"] == "notes.jpg"
    for told in (failure["message"], answer.json()["files"][1]["message"]):
        assert told.startswith("notes.jpg: not an image format"), told
        assert str(client.app.state.service.uploads) not in told  # type: ignore[attr-defined]
    uploads = client.app.state.service.uploads  # type: ignore[attr-defined]
    kept = sorted(p.relative_to(uploads) for p in uploads.rglob("*") if p.is_file())
    obama = hashlib.sha256((photos / "obama.jpg").read_bytes()).hexdigest()
    assert kept == [Path(obama) / "obama.jpg"], "no copy of the failed or duplicate upload"

    # Nothing stored: not 201 Created, and still nothing left behind.
    again = upload(client, keys[Role.ENROLLER], text, photos / "obama.jpg")
    assert again.status_code == 200, again.text
    assert [f["outcome"] for f in again.json()["files"]] == ["failed", "duplicate"]
    assert again.json()["images_ingested"] == 0
    assert sorted(p.relative_to(uploads) for p in uploads.rglob("*") if p.is_file()) == kept


def test_given_an_upload_then_the_audit_log_names_who_stored_which_images(
    client: TestClient, keys: dict[Role, dict[str, str]], photos: Path
) -> None:
    upload(client, keys[Role.ENROLLER], photos / "obama.jpg", photos / "biden.jpg")
    store = client.app.state.service.engine.store  # type: ignore[attr-defined]
    stored = [i.image_id for i in store.images("people", 0, 10)]
    attributed = [
        (e.actor, e.subject, e.details["image_ids"])
        for e in store.audit_entries()
        if e.action == "ingest"
    ]
    assert attributed == [("account:2 enroller-1", "people", stored)]


def test_given_a_folder_job_with_an_opted_out_person_then_it_reports_what_the_cli_does(
    tmp_path: Path, pipeline: FacePipeline, photos: Path, declare: Declare
) -> None:
    """Issue 13: a job added its batches' reports up by hand and lost faces_suppressed."""
    root = tmp_path / "allowed"
    (root / "press").mkdir(parents=True)
    for name in ("obama.jpg", "obama3.jpg", "biden.jpg"):
        (root / "press" / name).write_bytes((photos / name).read_bytes())
    (root / "press" / "notes.jpg").write_bytes(b"not an image")
    settings = Settings(data_dir=tmp_path / "data", ingest_allowed_roots=[root])
    with TestClient(create_app(settings, pipeline)) as client:
        engine = client.app.state.service.engine  # type: ignore[attr-defined]
        declare(engine, "press", "press-cli", "opt-outs")
        engine.ingest([photos / "obama2.jpg"], "opt-outs", workers=1)
        opened = open_request(engine, "erasure", [photos / "obama2.jpg"], "E-1", "test-admin")
        confirm(engine, opened.request.id, [c.face_id for c in opened.candidates], "test-admin")
        key = {"X-API-Key": create_account(engine.store, "enroller", Role.ENROLLER)[1]}
        job = client.post(
            "/jobs/ingest", headers=key, json={"folder": str(root / "press"), "collection": "press"}
        ).json()
        state = finished_job(client, key, job["job_id"])
    by_job = state["report"]
    by_cli = Cli(settings.data_dir).json(
        "ingest", root / "press", "-c", "press-cli", code=EXIT_INGEST_FAILURES
    )
    fields = ("images_seen", "images_ingested", "faces_indexed", "faces_suppressed", "refusals")
    assert {f: by_job[f] for f in fields} == {f: by_cli[f] for f in fields}
    assert by_job["faces_suppressed"] == 2 and by_job["faces_indexed"] == 1
    assert [f["error"] for f in by_job["failures"]] == [f["error"] for f in by_cli["failures"]]
