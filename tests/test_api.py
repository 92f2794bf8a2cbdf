"""The HTTP API through FastAPI's test client, on the real engine, store and index, with real
photos: roles, uploads, search with its log, problem details, and the authorisation matrix."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from facelens.accounts import PERMISSIONS, Action, Role, create_account
from facelens.api.app import create_app
from facelens.config import Settings
from facelens.pipeline import FacePipeline

PURPOSE = {"purpose": "fraud case review", "case_ref": "CASE-42"}


@pytest.fixture
def client(tmp_path: Path, pipeline: FacePipeline) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", max_image_bytes=2_000_000)
    with TestClient(create_app(settings, pipeline)) as test_client:
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
    form = {k: v for k, v in PURPOSE.items() if k != missing}
    files = {"image": ("obama.jpg", (photos / "obama.jpg").read_bytes(), "image/jpeg")}
    response = client.post("/searches", headers=keys[Role.ANALYST], files=files, data=form)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422 and problem["instance"] == "/searches"
    assert any(e["field"] == missing for e in problem["errors"])
    assert client.get("/searches", headers=keys[Role.ADMIN]).json() == [], "nothing logged"


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
    ("GET", "/readyz", None, {}),
    ("GET", "/metrics", Action.MANAGE_ACCOUNTS, {}),
    ("GET", "/accounts", Action.MANAGE_ACCOUNTS, {}),
    ("POST", "/accounts", Action.MANAGE_ACCOUNTS, {"json": {"name": "x", "role": "analyst"}}),
    ("GET", "/collections", Action.VIEW_COLLECTIONS, {}),
    ("POST", "/collections", Action.MANAGE_COLLECTIONS, {"json": {"name": "c"}}),
    ("DELETE", "/collections/c", Action.MANAGE_COLLECTIONS, {}),
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


def test_every_route_in_the_matrix_is_a_route_of_the_app(client: TestClient) -> None:
    documentation = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
    served = {
        (method, path)
        for route in client.app.routes  # type: ignore[attr-defined]
        if (path := getattr(route, "path", "")) not in documentation
        for method in getattr(route, "methods", set())
        if method != "HEAD"
    }
    listed = {
        (m, p.replace("/collections/c", "/collections/{name}").replace("/1/", "/{face_id}/"))
        for m, p, _, _ in ROUTES
    }
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
        assert response.status_code not in (401, 403), response.text
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
    assert client.get("/ui/app.js").status_code == 200
