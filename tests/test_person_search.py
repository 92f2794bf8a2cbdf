"""Issue 16, item 3: people, not just faces, on real photos (real models, store and index). A
per-person search answers with persons scored on all their faces (one candidate each) and
faces no person holds; a face a reviewer rejected for a person does not count for them;
several photos of one person are searched as one and logged once; a person's reference faces
are checked against each other, and one that is not them is flagged."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from facelens.api.app import create_app
from facelens.config import Settings
from facelens.engine import Engine
from facelens.errors import InvalidArgumentError, NoFaceFoundError, PurposeRequiredError
from facelens.person_fusion import fuse, fuse_probes, quality_weight
from facelens.pipeline.analyse import FacePipeline
from facelens.security.accounts import Role, create_account
from facelens.types import Caller
from tests.conftest import PRESS_ARCHIVE, SEARCH_WHY, Cli, Declare

GALLERY = "gallery"
BLANK = np.full((240, 240, 3), 128, dtype=np.uint8)  # a photo with no face


@pytest.fixture(scope="module")
def gallery_dir(
    declare: Declare, tmp_path_factory: pytest.TempPathFactory, pipeline: FacePipeline, photos: Path
) -> Path:
    """obama.jpg, obama3.jpg and biden.jpg, ingested; no person yet."""
    data = tmp_path_factory.mktemp("persons") / "data"
    with Engine(Settings(data_dir=data), pipeline=pipeline) as engine:
        declare(engine, GALLERY)
        names = ("obama.jpg", "obama3.jpg", "biden.jpg")
        report = engine.ingest([photos / n for n in names], GALLERY, workers=1)
    assert report.images_ingested == 3 and not report.failures
    return data


@pytest.fixture
def gallery(gallery_dir: Path, tmp_path: Path, pipeline: FacePipeline) -> Iterator[Engine]:
    """A private copy of the gallery, so a test may change it."""
    data = tmp_path / "data"
    shutil.copytree(gallery_dir, data)
    with Engine(Settings(data_dir=data), pipeline=pipeline) as engine:
        yield engine


def face_of(engine: Engine, name: str) -> int:
    for image in engine.images(GALLERY):
        if Path(image.location).name == name:
            [face] = image.face_ids
            return face
    raise AssertionError(name)


def analyst(engine: Engine) -> Caller:
    """A caller with an account: their searches are in the search log too."""
    account, _ = engine.create_account("analyst-1", Role.ANALYST)
    return Caller(f"python:account {account.id}", account.id)


def searches(engine: Engine) -> list[dict[str, object]]:
    return [e.details for e in engine.audit_entries() if e.action == "search"]


def test_given_a_person_with_two_photos_then_a_per_person_search_answers_one_candidate(
    gallery: Engine, photos: Path
) -> None:
    obama, obama3, biden = (face_of(gallery, n) for n in ("obama.jpg", "obama3.jpg", "biden.jpg"))
    person = gallery.assign("Barack Obama", [obama, obama3])
    by_face = gallery.search(photos / "obama2.jpg", top_k=5, **SEARCH_WHY)
    assert {m.face_id for m in by_face.faces[0].matches} == {obama, obama3, biden}
    assert by_face.person_fusion is None and by_face.faces[0].candidates == []

    result = gallery.search(
        photos / "obama2.jpg", top_k=5, per_person=True, caller=analyst(gallery), **SEARCH_WHY
    )
    assert result.person_fusion == gallery.settings.person_fusion
    [face] = result.faces
    him, other = face.candidates
    assert (him.person_id, him.person_name, him.faces_compared) == (person.id, "Barack Obama", 2)
    assert him.is_match and him.best.face_id in {obama, obama3}
    face_scores = {m.face_id: m.similarity for m in by_face.faces[0].matches}
    assert him.best.similarity == pytest.approx(max(face_scores[obama], face_scores[obama3]))
    weights = [1.0, 1.0]  # both faces large and sharp
    expected, _ = fuse(
        np.array([face_scores[obama], face_scores[obama3]]), np.array(weights),
        gallery.settings.person_fusion,
    )  # fmt: skip
    assert him.similarity == pytest.approx(expected, abs=1e-5)
    assert (other.person_id, other.faces_compared, other.best.face_id) == (None, 1, biden)
    assert not other.is_match and other.similarity < him.similarity
    # The faces shown, and logged, are the candidates' best faces.
    assert [m.face_id for m in face.matches] == [him.best.face_id, biden]
    logged = searches(gallery)[-1]
    assert logged["result_face_ids"] == [him.best.face_id, biden]
    assert logged["probe_sha256"] == [face.probe_sha256]
    [row] = [r for r in gallery.search_log() if r.id == result.search_id]
    assert row.result_face_ids == [him.best.face_id, biden] and row.matches == 1


def test_given_a_rejected_face_then_it_does_not_count_for_that_person(
    gallery: Engine, photos: Path
) -> None:
    obama, obama3, biden = (face_of(gallery, n) for n in ("obama.jpg", "obama3.jpg", "biden.jpg"))
    person = gallery.assign("Barack Obama", [obama, obama3, biden])
    [before] = gallery.search(photos / "obama2.jpg", per_person=True, **SEARCH_WHY).faces
    assert [(c.person_id, c.faces_compared) for c in before.candidates] == [(person.id, 3)]

    gallery.reject_match(person.id, biden)
    [after] = gallery.search(photos / "obama2.jpg", per_person=True, **SEARCH_WHY).faces
    him, lone = after.candidates
    assert (him.person_id, him.faces_compared) == (person.id, 2)
    assert (lone.person_id, lone.best.face_id, lone.faces_compared) == (None, biden, 1)
    # Only the faces of the collections searched count.
    gallery.create_collection("other", gallery.collection_policy(GALLERY))  # type: ignore[arg-type]
    gallery.ingest([photos / "obama2.jpg"], "other", workers=1)
    [obama2] = gallery.images("other")[0].face_ids
    gallery.assign_faces(person.id, [obama2])
    for searched, counted in ((["other"], 1), ([GALLERY], 2), ([GALLERY, "other"], 3)):
        [face] = gallery.search(
            photos / "obama2.jpg", per_person=True, collections=searched, **SEARCH_WHY
        ).faces
        him = face.candidates[0]
        assert (him.person_id, him.faces_compared) == (person.id, counted), searched
        assert {m.collection for m in face.matches} <= set(searched)


def test_given_someone_who_opted_out_then_their_face_neither_stands_nor_counts(
    gallery: Engine, photos: Path
) -> None:
    obama, obama3, biden = (face_of(gallery, n) for n in ("obama.jpg", "obama3.jpg", "biden.jpg"))
    person = gallery.assign("Barack Obama", [obama, obama3, biden])  # Biden's by mistake
    [(_, [template])] = list(gallery.store.embeddings(gallery.model, face_ids=[biden]))
    gallery.erase([], suppress=template)  # Biden opts out; his face is still stored
    [face] = gallery.search(photos / "obama2.jpg", per_person=True, **SEARCH_WHY).faces
    [him] = face.candidates
    assert (him.person_id, him.faces_compared) == (person.id, 2)
    assert biden not in {m.face_id for m in face.matches}


def test_given_two_photos_of_one_person_then_they_are_searched_as_one_and_logged_once(
    gallery: Engine, photos: Path
) -> None:
    obama, obama3 = face_of(gallery, "obama.jpg"), face_of(gallery, "obama3.jpg")
    before = len(searches(gallery))
    result = gallery.search_same_person(
        [photos / "obama.jpg", photos / "obama3.jpg"],
        top_k=3,
        caller=analyst(gallery),
        **SEARCH_WHY,
    )
    [face] = result.faces
    assert [m.face_id for m in face.matches[:2]] == [obama, obama3] or [
        m.face_id for m in face.matches[:2]
    ] == [obama3, obama]
    assert all(m.is_match for m in face.matches[:2]) and not face.matches[2].is_match
    single = [
        gallery.search(photos / n, **SEARCH_WHY).faces[0] for n in ("obama.jpg", "obama3.jpg")
    ]
    hashes = [s.probe_sha256 for s in single]
    # Shown: the mean of the two photos' similarities (the single-photo scale).
    alone = [{m.face_id: m.similarity for m in s.matches} for s in single]
    for m in face.matches:
        assert m.similarity == pytest.approx((alone[0][m.face_id] + alone[1][m.face_id]) / 2)
    assert result.fused_probe_sha256 == hashes and face.probe_sha256 not in hashes
    logged = searches(gallery)[before:]
    assert len(logged) == 3 and logged[0]["probe_sha256"] == hashes  # once, both probes
    [row] = [r for r in gallery.search_log() if r.id == result.search_id]
    assert row.probe_sha256 == hashes and row.probe_faces == 2
    direction, norm = fuse_probes(np.eye(2, dtype=np.float32))
    assert np.isclose(np.linalg.norm(direction), 1.0) and np.isclose(norm, np.sqrt(0.5))

    per_person = gallery.search_same_person(
        [photos / "obama.jpg", photos / "obama3.jpg"], per_person=True, **SEARCH_WHY
    )
    assert per_person.person_fusion is not None and per_person.faces[0].candidates
    with pytest.raises(InvalidArgumentError):
        gallery.search_same_person([], **SEARCH_WHY)
    with pytest.raises(NoFaceFoundError, match="probe photo 2"):
        gallery.search_same_person([photos / "obama.jpg", BLANK], **SEARCH_WHY)
    with pytest.raises(PurposeRequiredError):
        gallery.search_same_person([photos / "obama.jpg"])


def test_given_a_wrongly_assigned_face_then_the_reference_check_flags_it(
    gallery: Engine,
) -> None:
    obama, obama3, biden = (face_of(gallery, n) for n in ("obama.jpg", "obama3.jpg", "biden.jpg"))
    person = gallery.assign("Barack Obama", [obama, obama3, biden])
    reviewer = analyst(gallery)
    report = gallery.check_person_references(person.id, caller=reviewer)
    assert [c.face_id for c in report.faces] == sorted([obama, obama3, biden])
    assert report.outliers == [biden] and report.low_quality == []
    checks = {c.face_id: c for c in report.faces}
    assert (checks[biden].self_similarity or 1.0) < report.threshold
    assert checks[biden].matches_others == 0 and checks[biden].others == 2
    assert "under the threshold" in checks[biden].reasons[0]
    assert checks[obama].matches_others == 1 and not checks[obama].outlier
    assert checks[obama].size_px > 64 and checks[obama].quality_weight == 1.0
    [entry] = [e for e in gallery.audit_entries() if e.action == "person check"]
    assert (entry.actor, entry.subject) == (reviewer.actor, f"person {person.id}")
    assert entry.details["outliers"] == [biden]

    alone = gallery.check_person_references(gallery.assign("Joe", [biden]).id)
    [lone] = alone.faces
    assert lone.self_similarity is None and not lone.outlier and alone.outliers == []
    assert quality_weight(32, 100.0) == 0.5 and quality_weight(200, 3.0) == pytest.approx(0.2)


# --- the command line and the HTTP API --------------------------------------------------------


def test_given_the_cli_then_per_person_same_person_and_person_check_round_trip(
    tmp_path: Path, photos: Path
) -> None:
    cli = Cli(tmp_path / "data")
    cli("collection", "create", "press", *PRESS_ARCHIVE)
    cli("ingest", photos / "obama.jpg", photos / "obama3.jpg", photos / "biden.jpg", "-c", "press")
    person = cli.json(
        "person", "add", "Obama", photos / "obama.jpg", photos / "obama3.jpg", "-c", "press"
    )
    why = ("--purpose", "testing", "--case-ref", "T-1")
    found = cli.json("search", photos / "obama2.jpg", "--per-person", *why)
    assert found["person_fusion"] == Settings().person_fusion
    him = found["faces"][0]["candidates"][0]
    assert (him["person_id"], him["faces_compared"]) == (person["id"], 2)
    text = cli("search", photos / "obama2.jpg", "--per-person", *why)
    assert "Obama" in text and "2 faces" in text and "MATCH" in text

    fused = cli.json("search", "--same-person", photos / "obama.jpg", photos / "obama3.jpg", *why)
    assert len(fused["fused_probe_sha256"]) == 2 and len(fused["faces"]) == 1
    assert "2 photos of one person" in cli(
        "search", "--same-person", photos / "obama.jpg", photos / "obama3.jpg", *why
    )
    assert "folder" in cli("search", "--same-person", photos, *why, code=2)

    report = cli.json("person", "check", str(person["id"]))
    assert report["outliers"] == [] and len(report["faces"]) == 2
    assert "no face flagged" in cli("person", "check", str(person["id"]))


@pytest.fixture
def client(tmp_path: Path, pipeline: FacePipeline, declare: Declare) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"), pipeline)) as test_client:
        declare(test_client.app.state.service.engine, "people")  # type: ignore[attr-defined]
        yield test_client


def test_given_the_api_then_per_person_same_person_and_references_round_trip(
    client: TestClient, photos: Path
) -> None:
    engine: Engine = client.app.state.service.engine  # type: ignore[attr-defined]
    keys = {r: {"X-API-Key": create_account(engine.store, f"{r}-1", r)[1]} for r in Role}
    enroller, analyst = keys[Role.ENROLLER], keys[Role.ANALYST]
    files = [
        ("files", (n, (photos / n).read_bytes(), "image/jpeg"))
        for n in ("obama.jpg", "obama3.jpg", "biden.jpg")
    ]
    assert client.post("/collections/people/images", headers=enroller, files=files).is_success
    obama, obama3, biden = [
        i["face_ids"][0] for i in client.get("/collections/people/images", headers=enroller).json()
    ]
    person = client.post("/persons", headers=enroller, json={"name": "Obama"}).json()
    url = f"/persons/{person['id']}"
    client.post(f"{url}/faces", headers=enroller, json={"face_ids": [obama, obama3, biden]})

    def image(name: str) -> tuple[str, tuple[str, bytes, str]]:
        return ("image", (name, (photos / name).read_bytes(), "image/jpeg"))

    why = {"purpose": "fraud case review", "case_ref": "CASE-42"}
    found = client.post(
        "/searches", headers=analyst, files=[image("obama2.jpg")], data=why | {"per_person": "true"}
    )
    assert found.status_code == 200, found.text
    [him] = found.json()["faces"][0]["candidates"]
    assert (him["person_id"], him["faces_compared"]) == (person["id"], 3)
    assert him["best"]["thumbnail_url"].startswith("/faces/")

    two = [image("obama.jpg"), image("obama3.jpg")]
    refused = client.post("/searches", headers=analyst, files=two, data=why)
    assert (refused.status_code, refused.json()["type"]) == (422, "/problems/invalid_argument")
    fused = client.post("/searches", headers=analyst, files=two, data=why | {"same_person": "1"})
    assert fused.status_code == 200, fused.text
    assert len(fused.json()["fused_probe_sha256"]) == 2
    logged = {r["id"]: r for r in client.get("/searches", headers=analyst).json()}
    assert logged[fused.json()["search_id"]]["probe_faces"] == 2

    assert client.get(f"{url}/references", headers=analyst).status_code == 403  # no browsing
    checked = client.get(f"{url}/references", headers=enroller)
    assert checked.status_code == 200, checked.text
    assert checked.json()["outliers"] == [biden]
    assert client.get(f"{url}/references").status_code == 401
    assert client.get("/persons/999/references", headers=enroller).status_code == 404
    flagged = {f["face_id"]: f for f in checked.json()["faces"]}[biden]
    assert flagged["outlier"] and flagged["thumbnail_url"] == f"/faces/{biden}/thumbnail"
