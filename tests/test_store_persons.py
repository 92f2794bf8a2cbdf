"""The store contract, persons and reviewer feedback: "not this person" recorded with who and
when, never overridden by an assignment or a merge, withdrawn on the record, carried by a
merge and gone with the person or the face; and splitting a person. Run against every
registered backend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from facelens.errors import ConflictError, InvalidArgumentError, MatchRejectedError, NotFoundError
from facelens.store import MetadataStore, available_stores
from tests.store_support import add, database_url, open_store

REVIEWER = "account:7 reviewer"


@pytest.fixture(params=available_stores())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    yield from open_store(request, tmp_path)


def rejection_rows(store: MetadataStore) -> list[tuple[int, int]]:
    """(person_id, face_id) of every row of the rejections table, read past the store."""
    engine = create_engine(database_url(store))
    try:
        with engine.connect() as connection:
            query = "SELECT person_id, face_id FROM person_rejections ORDER BY id"
            rows = connection.execute(text(query))
            return [(int(person), int(face)) for person, face in rows]
    finally:
        engine.dispose()


def test_given_a_rejection_then_it_is_recorded_the_face_unassigned_and_not_assigned_again(
    store: MetadataStore,
) -> None:
    faces = add(store, "a" * 64, n=3).tolist()
    ada = store.get_or_create_person("Ada")
    store.assign_faces(ada, faces)
    before = datetime.now(UTC)
    rejection = store.reject_face(ada, faces[1], REVIEWER)
    assert (rejection.person_id, rejection.face_id, rejection.rejected_by) == (
        ada,
        faces[1],
        REVIEWER,
    )
    assert before - timedelta(seconds=1) <= rejection.rejected_at <= datetime.now(UTC)
    assert rejection.withdrawn_at is None and rejection.withdrawn_by is None
    assert store.persons()[0].face_ids == [faces[0], faces[2]], "taken from the person"
    assert store.reject_face(ada, faces[1], "someone else") == rejection, "stands already"
    assert store.rejections(ada) == [rejection] == store.rejections()

    with pytest.raises(MatchRejectedError, match=f"face {faces[1]} was marked not person"):
        store.assign_faces(ada, [faces[1], faces[2]])
    assert store.persons()[0].face_ids == [faces[0], faces[2]], "nothing assigned"
    bob = store.get_or_create_person("Bob")
    store.assign_faces(bob, [faces[1]])  # another person may have it
    with pytest.raises(NotFoundError, match="no person with id 999"):
        store.reject_face(999, faces[0], REVIEWER)
    with pytest.raises(NotFoundError, match="no face with id 999"):
        store.reject_face(ada, 999, REVIEWER)
    with pytest.raises(NotFoundError, match="no person with id 999"):
        store.rejections(999)


def test_given_a_withdrawn_rejection_then_it_stays_on_record_and_the_face_may_be_assigned(
    store: MetadataStore,
) -> None:
    faces = add(store, "a" * 64, n=2).tolist()
    ada = store.get_or_create_person("Ada")
    first = store.reject_face(ada, faces[0], REVIEWER)
    withdrawn = store.withdraw_rejection(ada, faces[0], "account:8 lead")
    assert withdrawn.id == first.id and withdrawn.withdrawn_by == "account:8 lead"
    assert withdrawn.withdrawn_at is not None and withdrawn.withdrawn_at >= first.rejected_at
    assert store.rejections(ada) == []
    assert store.rejections(ada, withdrawn=True) == [withdrawn], "kept as the record"
    store.assign_faces(ada, [faces[0]])
    assert store.persons()[0].face_ids == [faces[0]]
    with pytest.raises(NotFoundError, match="nothing to withdraw"):
        store.withdraw_rejection(ada, faces[0], REVIEWER)
    again = store.reject_face(ada, faces[0], REVIEWER)
    assert again.id != first.id and store.rejections(ada) == [again]
    assert len(store.rejections(ada, withdrawn=True)) == 2


def test_given_a_merge_then_the_merged_person_keeps_both_persons_rejections(
    store: MetadataStore,
) -> None:
    faces = add(store, "a" * 64, n=4).tolist()
    ada, bob = store.get_or_create_person("Ada"), store.get_or_create_person("Bob")
    store.assign_faces(ada, [faces[0]])
    store.assign_faces(bob, [faces[1]])
    store.reject_face(ada, faces[2], REVIEWER)
    store.reject_face(bob, faces[3], REVIEWER)
    store.merge_persons(ada, bob)
    assert [(r.person_id, r.face_id) for r in store.rejections()] == [
        (ada, faces[2]),
        (ada, faces[3]),
    ]
    with pytest.raises(MatchRejectedError):
        store.assign_faces(ada, [faces[3]])


def test_given_a_rejection_between_two_persons_then_merging_them_is_refused(
    store: MetadataStore,
) -> None:
    faces = add(store, "a" * 64, n=2).tolist()
    ada, bob = store.get_or_create_person("Ada"), store.get_or_create_person("Bob")
    store.assign_faces(bob, [faces[0]])
    store.reject_face(ada, faces[0], REVIEWER)
    for into, other in ((ada, bob), (bob, ada)):
        with pytest.raises(MatchRejectedError, match=f"face {faces[0]} of one person"):
            store.merge_persons(into, other)
    assert len(store.persons()) == 2, "nothing changed"
    store.withdraw_rejection(ada, faces[0], REVIEWER)
    store.merge_persons(ada, bob)
    assert store.persons()[0].face_ids == [faces[0]]


def test_given_a_split_then_the_faces_named_make_a_new_person(store: MetadataStore) -> None:
    faces = add(store, "a" * 64, n=3).tolist()
    ada = store.get_or_create_person("Ada")
    store.get_or_create_person("Bob")
    store.assign_faces(ada, faces)
    with pytest.raises(InvalidArgumentError, match="at least one face"):
        store.split_person(ada, [], "Ann")
    with pytest.raises(InvalidArgumentError, match="every face"):
        store.split_person(ada, faces, "Ann")
    with pytest.raises(InvalidArgumentError, match="999 is not person"):
        store.split_person(ada, [faces[0], 999], "Ann")
    with pytest.raises(NotFoundError, match="no person with id 999"):
        store.split_person(999, [faces[0]], "Ann")
    with pytest.raises(ConflictError, match="'bob' exists already"):
        store.split_person(ada, [faces[0]], "bob")
    assert len(store.persons()) == 2, "a refused split makes no person"
    ann = store.split_person(ada, [faces[2], faces[0]], "Ann")
    by_id = {p.id: p for p in store.persons()}
    assert (by_id[ann].name, by_id[ann].face_ids) == ("Ann", [faces[0], faces[2]])
    assert by_id[ada].face_ids == [faces[1]]
    assert store.person_id("ann") == ann


def test_given_a_deletion_or_erasure_then_its_rejections_are_gone(
    store: MetadataStore, tmp_path: Path
) -> None:
    faces = add(store, "a" * 64, n=2).tolist() + add(store, "b" * 64, n=2, collection="d").tolist()
    ada, bob = store.get_or_create_person("Ada"), store.get_or_create_person("Bob")
    for face in faces:
        store.reject_face(ada, face, REVIEWER)
    store.reject_face(bob, faces[0], REVIEWER)
    store.withdraw_rejection(bob, faces[0], REVIEWER)  # withdrawn rows go too
    store.delete_faces([faces[1]])
    assert faces[1] not in {f for _, f in rejection_rows(store)}
    store.erase_faces([faces[0]])
    assert rejection_rows(store) == [(ada, faces[2]), (ada, faces[3])]
    store.delete_collection("d")
    assert rejection_rows(store) == []
    store.reject_face(bob, add(store, "c" * 64).tolist()[0], REVIEWER)
    store.delete_person(bob)
    assert rejection_rows(store) == [] and store.rejections() == []
    [face] = add(store, "e" * 64).tolist()
    store.reject_face(ada, face, REVIEWER)
    store.delete_images([store.face_records([face])[face].image_id])
    assert rejection_rows(store) == []
