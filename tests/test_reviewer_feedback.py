"""Issue 16, item 7: reviewer feedback on persons, on real photos (real models, store and
index). "Not this person" on a match is recorded (who, when) and the face is never proposed
for that person again; persons are merged and split; through the engine, the CLI and the
HTTP API, and every action is in the audit log."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import facelens
from facelens.api.app import create_app
from facelens.cli.main import EXIT_NOT_FOUND, EXIT_OTHER, EXIT_USAGE
from facelens.config import Settings
from facelens.engine import Engine
from facelens.errors import InvalidArgumentError, MatchRejectedError, NotFoundError
from facelens.pipeline.analyse import FacePipeline
from facelens.security.accounts import Role, create_account
from facelens.types import Caller
from tests.conftest import PRESS_ARCHIVE, SEARCH_WHY, Cli, Declare

GALLERY = "gallery"
REVIEWER = Caller("account:7 reviewer", 7)
PURPOSE = {"purpose": "fraud case review", "case_ref": "CASE-42"}


@pytest.fixture(scope="module")
def gallery_dir(
    declare: Declare, tmp_path_factory: pytest.TempPathFactory, pipeline: FacePipeline, photos: Path
) -> Path:
    """A data folder holding three photos of Obama and one of Biden."""
    data = tmp_path_factory.mktemp("feedback") / "data"
    with Engine(Settings(data_dir=data), pipeline=pipeline) as engine:
        declare(engine, GALLERY)
        names = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")
        report = engine.ingest([photos / n for n in names], GALLERY, workers=1)
    assert report.images_ingested == 4 and not report.failures
    return data


@pytest.fixture
def gallery(gallery_dir: Path, tmp_path: Path, pipeline: FacePipeline) -> Iterator[Engine]:
    """A private copy of the gallery, so a test may change it."""
    data = tmp_path / "data"
    shutil.copytree(gallery_dir, data)
    with Engine(Settings(data_dir=data), pipeline=pipeline) as engine:
        yield engine


def face_of(engine: Engine, name: str) -> int:
    """The id of the (only) face of the gallery photo ``name``."""
    for image in engine.images(GALLERY):
        if Path(image.location).name == name:
            [face] = image.face_ids
            return face
    raise AssertionError(name)


def proposed(engine: Engine, person_id: int) -> list[int]:
    return [m.face_id for m in engine.search_person(person_id, top_k=10, **SEARCH_WHY).matches]


def actions(engine: Engine, person_id: int) -> list[tuple[str, str, dict[str, object]]]:
    return [
        (e.action, e.actor, e.details)
        for e in engine.audit_entries()
        if e.action.startswith("person ") and e.subject == f"person {person_id}"
    ]


def test_given_not_this_person_then_that_face_leaves_the_persons_future_results(
    gallery: Engine,
) -> None:
    obama, obama2, obama3, biden = (
        face_of(gallery, n) for n in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")
    )
    person = gallery.assign("Barack Obama", [obama])
    before = gallery.search_person(person.id, top_k=10, **SEARCH_WHY).matches
    assert {m.face_id for m in before if m.is_match} == {obama2, obama3}, "found before"

    rejection = gallery.reject_match(person.id, obama2, caller=REVIEWER)
    assert (rejection.person_id, rejection.face_id) == (person.id, obama2)
    assert rejection.rejected_by == REVIEWER.actor and rejection.withdrawn_at is None
    after = proposed(gallery, person.id)
    assert obama2 not in after and obama3 in after and biden in after
    assert gallery.rejections(person.id) == [rejection]
    with pytest.raises(MatchRejectedError, match=f"face {obama2} was marked not person"):
        gallery.assign_faces(person.id, [obama2])
    with pytest.raises(MatchRejectedError):
        gallery.assign("Barack Obama", [obama3, obama2])
    assert gallery.person(person.id).face_ids == [obama], "nothing assigned"

    # A face the person held is taken from them, and not proposed either.
    gallery.assign_faces(person.id, [obama3])
    gallery.reject_match(person.id, obama3, caller=REVIEWER)
    assert gallery.person(person.id).face_ids == [obama]
    assert not {obama2, obama3} & set(proposed(gallery, person.id))

    withdrawn = gallery.withdraw_rejection(person.id, obama2, caller=Caller("cli:lead"))
    assert withdrawn.withdrawn_by == "cli:lead" and withdrawn.withdrawn_at is not None
    assert obama2 in proposed(gallery, person.id), "proposed again once withdrawn"
    gallery.assign_faces(person.id, [obama2])
    assert gallery.rejections(person.id, withdrawn=True)[0] == withdrawn, "kept on record"
    with pytest.raises(NotFoundError, match="nothing to withdraw"):
        gallery.withdraw_rejection(person.id, obama2)

    logged = actions(gallery, person.id)
    assert [(a, who) for a, who, _ in logged] == [
        ("person reject", REVIEWER.actor),
        ("person reject", REVIEWER.actor),
        ("person unreject", "cli:lead"),
    ]
    assert logged[0][2] == {"face_id": obama2, "rejection_id": rejection.id, "unassigned": False}
    assert logged[1][2]["unassigned"] is True
    assert "Obama" not in str(logged), "ids only: names are sealed in the store"


def test_given_a_split_then_two_persons_with_the_right_faces(gallery: Engine) -> None:
    obama, obama2, biden = (face_of(gallery, n) for n in ("obama.jpg", "obama2.jpg", "biden.jpg"))
    mixed = gallery.assign("Obama", [obama, obama2, biden])
    with pytest.raises(InvalidArgumentError, match="every face"):
        gallery.split_person(mixed.id, [obama, obama2, biden], "Biden")
    with pytest.raises(InvalidArgumentError, match="is not person"):
        gallery.split_person(mixed.id, [biden, face_of(gallery, "obama3.jpg")], "Biden")
    with pytest.raises(InvalidArgumentError, match="non-empty name"):
        gallery.split_person(mixed.id, [biden], " ")
    split = gallery.split_person(mixed.id, [biden], "Joe Biden", caller=REVIEWER)
    assert (split.name, split.face_ids) == ("Joe Biden", [biden])
    assert gallery.person(mixed.id).face_ids == [obama, obama2]
    assert sorted(p.name for p in gallery.persons()) == ["Joe Biden", "Obama"]
    [(action, actor, details)] = actions(gallery, mixed.id)
    assert (action, actor) == ("person split", REVIEWER.actor)
    assert details == {"new_person_id": split.id, "face_ids": [biden]}


def test_given_a_merge_then_the_merged_person_keeps_both_persons_rejections(
    gallery: Engine,
) -> None:
    obama, obama2, obama3, biden = (
        face_of(gallery, n) for n in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")
    )
    first = gallery.assign("Obama", [obama])
    second = gallery.assign("Barack", [obama3])
    gallery.reject_match(first.id, obama2, caller=REVIEWER)
    gallery.reject_match(second.id, biden, caller=REVIEWER)
    merged = gallery.merge_persons(first.id, second.id, caller=REVIEWER)
    assert merged.face_ids == [obama, obama3]
    assert {(r.person_id, r.face_id) for r in gallery.rejections()} == {
        (first.id, obama2),
        (first.id, biden),
    }
    assert not {obama2, biden} & set(proposed(gallery, first.id))
    with pytest.raises(MatchRejectedError):
        gallery.assign_faces(first.id, [biden])
    merges = [d for a, _, d in actions(gallery, first.id) if a == "person merge"]
    assert merges == [{"other_person_id": second.id, "face_ids": [obama3]}]

    # A merge that would override a rejection is refused.
    third = gallery.assign("Someone", [obama2])
    with pytest.raises(MatchRejectedError, match="of one person was marked not the other"):
        gallery.merge_persons(first.id, third.id)


def test_given_a_deletion_or_an_erasure_then_no_rejection_row_is_left(gallery: Engine) -> None:
    obama, obama2, obama3, biden = (
        face_of(gallery, n) for n in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")
    )
    person = gallery.assign("Obama", [obama])
    other = gallery.assign("Other", [])
    for face in (obama2, obama3, biden):
        gallery.reject_match(person.id, face)
    gallery.reject_match(other.id, obama)
    gallery.delete(face=obama2)
    gallery.erase([obama3])
    assert [r.face_id for r in gallery.rejections(withdrawn=True)] == [biden, obama]
    gallery.delete(person=other.id)
    gallery.delete(collection=GALLERY)
    with sqlite3.connect(gallery.settings.data_dir / "facelens.db") as connection:
        assert list(connection.execute("SELECT * FROM person_rejections")) == []


# --- the command line -----------------------------------------------------------------------


def test_given_the_cli_then_reject_unreject_split_and_merge_round_trip(
    tmp_path: Path, photos: Path
) -> None:
    cli = Cli(tmp_path / "data")
    cli("collection", "create", "press", *PRESS_ARCHIVE)
    cli("ingest", photos / "obama.jpg", photos / "obama3.jpg", photos / "biden.jpg", "-c", "press")
    person = cli.json(
        "person", "add", "Obama", photos / "obama.jpg", photos / "obama3.jpg", "-c", "press"
    )
    obama, obama3 = person["face_ids"]
    biden = cli.json("person", "add", "Biden", photos / "biden.jpg", "-c", "press")

    rejected = cli.json("person", "reject", str(person["id"]), str(obama3))
    assert (rejected["person_id"], rejected["face_id"]) == (person["id"], obama3)
    assert rejected["rejected_by"].startswith("cli:") and rejected["withdrawn_at"] is None
    listed = cli.json("person", "list")
    assert [p["face_ids"] for p in listed if p["id"] == person["id"]] == [[obama]]
    assert str(obama3) in cli("person", "rejections", str(person["id"]))
    assert cli.json("person", "rejections", str(person["id"])) == [rejected]
    assert "withdraw the rejection" in cli(
        "person", "add", "Obama", photos / "obama3.jpg", "-c", "press", code=EXIT_OTHER
    )
    withdrawn = cli.json("person", "unreject", str(person["id"]), str(obama3))
    assert withdrawn["withdrawn_at"] is not None
    cli("person", "unreject", str(person["id"]), str(obama3), code=EXIT_NOT_FOUND)
    assert cli.json("person", "rejections", str(person["id"])) == []
    assert len(cli.json("person", "rejections", str(person["id"]), "--withdrawn")) == 1
    history = cli("person", "rejections", "--withdrawn")
    assert f"face {obama3} is not person {person['id']}" in history and "withdrawn by" in history
    assert "no rejections" in cli("person", "rejections", str(person["id"]))

    merged = cli.json("person", "merge", str(person["id"]), str(biden["id"]))
    assert merged["face_ids"] == sorted([obama, biden["face_ids"][0]])
    split = cli.json(
        "person", "split", str(person["id"]), "--face", str(biden["face_ids"][0]), "--name", "Joe"
    )
    assert (split["name"], split["face_ids"]) == ("Joe", biden["face_ids"])
    assert "every face" in cli(
        "person", "split", str(person["id"]), "--face", str(obama), "--name", "X", code=EXIT_USAGE
    )
    cli("person", "split", str(person["id"]), "--face", str(obama), code=EXIT_USAGE)  # no name
    assert "is not person" in cli("person", "reject", str(split["id"]), str(obama))

    with facelens.open(settings=Settings(data_dir=cli.data)) as engine:
        logged = [(e.action, e.subject) for e in engine.audit_entries()]
    subject = f"person {person['id']}"
    for action in ("person reject", "person unreject", "person merge", "person split"):
        assert (action, subject) in logged


# --- the HTTP API ---------------------------------------------------------------------------


@pytest.fixture
def client(tmp_path: Path, pipeline: FacePipeline, declare: Declare) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"), pipeline)) as test_client:
        declare(test_client.app.state.service.engine, "people")  # type: ignore[attr-defined]
        yield test_client


def test_given_the_api_then_not_this_person_split_and_merge_round_trip(
    client: TestClient, photos: Path
) -> None:
    engine: Engine = client.app.state.service.engine  # type: ignore[attr-defined]
    keys = {r: {"X-API-Key": create_account(engine.store, f"{r}-1", r)[1]} for r in Role}
    enroller, analyst = keys[Role.ENROLLER], keys[Role.ANALYST]
    [account] = [a for a in engine.accounts() if a.role == Role.ENROLLER]
    actor = f"account:{account.id} {account.name}"
    files = [
        ("files", (n, (photos / n).read_bytes(), "image/jpeg"))
        for n in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")
    ]
    assert client.post("/collections/people/images", headers=enroller, files=files).is_success
    obama, obama2, obama3, biden = [
        i["face_ids"][0] for i in client.get("/collections/people/images", headers=enroller).json()
    ]
    person = client.post("/persons", headers=enroller, json={"name": "Obama"}).json()
    url = f"/persons/{person['id']}"
    client.post(f"{url}/faces", headers=enroller, json={"face_ids": [obama, biden]})

    def proposed_ids() -> set[int]:
        found = client.post(f"{url}/searches", headers=analyst, json=PURPOSE | {"top_k": 5})
        assert found.status_code == 200, found.text
        return {m["face_id"] for m in found.json()["matches"]}

    assert obama2 in proposed_ids()
    assert (
        client.post(f"{url}/rejections", headers=analyst, json={"face_id": obama2}).status_code
        == 403
    )
    made = client.post(f"{url}/rejections", headers=enroller, json={"face_id": obama2})
    assert made.status_code == 201, made.text
    rejection = made.json()
    assert rejection["rejected_by"] == actor and rejection["face_id"] == obama2
    assert obama2 not in proposed_ids() and obama3 in proposed_ids()
    refused = client.post(f"{url}/faces", headers=enroller, json={"face_ids": [obama2]})
    assert (refused.status_code, refused.json()["type"]) == (409, "/problems/match_rejected")
    listed = client.get(f"{url}/rejections", headers=enroller).json()
    assert listed == [rejection]
    missing = client.post(f"{url}/rejections", headers=enroller, json={"face_id": 999})
    assert missing.status_code == 404

    split = client.post(
        f"{url}/split", headers=enroller, json={"face_ids": [biden], "name": "Biden"}
    )
    assert split.status_code == 201, split.text
    assert split.json()["person"]["face_ids"] == [obama]
    assert (split.json()["new_person"]["name"], split.json()["new_person"]["face_ids"]) == (
        "Biden",
        [biden],
    )
    everything = client.post(
        f"{url}/split", headers=enroller, json={"face_ids": [obama], "name": "Again"}
    )
    assert (everything.status_code, everything.json()["type"]) == (
        422,
        "/problems/invalid_argument",
    )
    withdrawn = client.post(f"{url}/rejections/{obama2}/withdraw", headers=enroller)
    assert withdrawn.status_code == 200 and withdrawn.json()["withdrawn_by"] == actor
    assert obama2 in proposed_ids()
    assert client.post(f"{url}/rejections/{obama2}/withdraw", headers=enroller).status_code == 404
    history = client.get(f"{url}/rejections", headers=enroller, params={"withdrawn": True})
    assert history.json() == [withdrawn.json()]

    logged = {(e.action, e.actor) for e in engine.audit_entries()}
    for action in ("person reject", "person unreject", "person split"):
        assert (action, actor) in logged
    assert ("POST /persons/{person_id}/rejections", actor) in logged
