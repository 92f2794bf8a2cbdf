"""The store contract, gallery area: collections, images, faces, templates, persons and the
store's own facts, run against every registered backend."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from facelens.errors import ConflictError, InvalidArgumentError, NotFoundError
from facelens.security.crypto import TemplateCipher, generate_key
from facelens.security.keys import KEY_ID_META
from facelens.store import MetadataStore, NewImage, available_stores, create_store
from facelens.types import FaceQuality, Provenance
from tests.store_support import MODEL, POLICY, add, analysis, open_store, settings_of


@pytest.fixture(params=available_stores())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    yield from open_store(request, tmp_path)


def other_key_store(store: MetadataStore, data_dir: Path) -> MetadataStore:
    """The same data folder opened with another template key."""
    settings = settings_of(store).model_copy(update={"data_dir": data_dir})
    return create_store(settings, TemplateCipher(generate_key()))


def test_given_a_closed_store_then_the_folder_reopens_with_its_data(
    store: MetadataStore, tmp_path: Path
) -> None:
    faces = add(store, "a" * 64, n=2)
    store.close()
    reopened = create_store(settings_of(store), store.cipher)
    try:
        assert reopened.collection_names() == ["c"]
        assert reopened.indexed_face_ids(MODEL).tolist() == faces.tolist()
    finally:
        reopened.close()


def test_given_collections_with_a_legal_basis_then_each_policy_comes_back(
    store: MetadataStore,
) -> None:
    store.create_collection("press", POLICY)
    assert store.ensure_collection("legacy") == store.ensure_collection("legacy")
    with pytest.raises(ConflictError, match="'press' exists already"):
        store.create_collection("press", POLICY)
    assert store.collection_names() == ["legacy", "press"]
    assert store.collection_policy("press") == POLICY
    assert store.collection_policy("legacy") is None, "made before legal bases were recorded"
    changed = replace(POLICY, purpose="archive research", retention_days=90)
    store.set_collection_policy("legacy", changed)
    assert store.collection_policies() == {"legacy": changed, "press": POLICY}
    with pytest.raises(NotFoundError, match="no collection named 'nope'"):
        store.collection_policy("nope")
    with pytest.raises(NotFoundError, match="no collection named 'nope'"):
        store.set_collection_policy("nope", POLICY)


def test_given_images_then_they_are_listed_oldest_first_with_their_faces(
    store: MetadataStore,
) -> None:
    fetched = datetime(2024, 6, 1, tzinfo=UTC)
    first = add(store, "a" * 64, n=2, rejected=1)
    second = add(store, "b" * 64, n=1, provenance=Provenance("https://e.org/b.jpg"))
    add(store, "c" * 64, n=1, collection="other")
    store.ensure_collection("c")
    store.add_image(
        collection="c",
        location="/photos/nofaces.jpg",
        sha256="d" * 64,
        analysis=analysis(0, 1),
        provenance=Provenance("https://e.org/d.jpg", fetched_at=fetched),
    )
    listed = store.images("c")
    assert [i.sha256 for i in listed] == ["a" * 64, "b" * 64, "d" * 64]
    assert [i.face_ids for i in listed] == [first.tolist(), second.tolist(), []]
    assert [i.sha256 for i in store.images(offset=1, limit=2)] == ["b" * 64, "c" * 64]
    record = store.image_record(listed[1].image_id)
    assert record == listed[1]
    assert (record.collection, record.location) == ("c", f"/photos/{'b' * 64}.jpg")
    assert (record.width, record.height) == (640, 480)
    assert record.provenance.origin_url == "https://e.org/b.jpg"
    assert store.known_origin_urls("c") == {"https://e.org/b.jpg", "https://e.org/d.jpg"}
    assert store.known_origin_urls("other") == set()
    assert store.collection_counts("c") == (3, 3), "rejected faces are not counted"
    assert store.collection_counts("other") == (1, 1)
    with pytest.raises(NotFoundError, match="no image with id 999"):
        store.image_record(999)
    with pytest.raises(NotFoundError, match="no collection named 'nope'"):
        store.images("nope")
    with pytest.raises(NotFoundError, match="no collection named 'nope'"):
        store.collection_counts("nope")


def test_given_an_unknown_collection_then_an_image_is_refused(store: MetadataStore) -> None:
    with pytest.raises(NotFoundError, match="no collection named 'nope'"):
        store.add_image(
            collection="nope",
            location="/photos/x.jpg",
            sha256="x" * 64,
            analysis=analysis(1),
            provenance=Provenance(),
        )
    assert store.counts().images == 0


def test_given_faces_then_accepted_ids_filter_by_image_and_person(
    store: MetadataStore,
) -> None:
    a = add(store, "a" * 64, n=2, rejected=1)
    b = add(store, "b" * 64, n=1)
    image_a = store.face_records([int(a[0])])[int(a[0])].image_id
    person = store.get_or_create_person("Ada")
    store.assign_faces(person, [int(a[1]), int(b[0])])
    assert store.accepted_face_ids() == [*a.tolist(), *b.tolist()]
    assert store.accepted_face_ids(image_id=image_a) == a.tolist()
    assert store.accepted_face_ids(person_id=person) == [int(a[1]), int(b[0])]
    assert store.accepted_face_ids(image_id=image_a, person_id=person) == [int(a[1])]
    assert store.accepted_face_ids(image_id=12345) == []


def test_given_faces_then_their_landmarks_come_back_opened(store: MetadataStore) -> None:
    faces = add(store, "a" * 64, n=2)
    landmarks = store.face_landmarks([*faces.tolist(), 999])
    assert set(landmarks) == set(faces.tolist()), "an unknown id is left out"
    assert landmarks[int(faces[0])] == [[0.5, 0.0]] * 5
    assert landmarks[int(faces[1])] == [[1.5, 2.0]] * 5


def test_given_faces_then_their_quality_comes_back(store: MetadataStore) -> None:
    faces = add(store, "q" * 64, n=2)
    qualities = store.face_qualities([*faces.tolist(), 999])
    assert set(qualities) == set(faces.tolist()), "an unknown id is left out"
    assert qualities[int(faces[0])] == FaceQuality(50, 100.0, None)


def test_given_an_image_location_then_it_is_found_in_use_until_deleted(
    store: MetadataStore,
) -> None:
    store.create_collection("sealed", replace(POLICY, seal_locations=True))
    plain = add(store, "a" * 64)
    sealed = add(store, "b" * 64, collection="sealed")
    assert store.location_in_use(f"/photos/{'a' * 64}.jpg")
    assert store.location_in_use(f"/photos/{'b' * 64}.jpg"), "found by its blind index"
    assert not store.location_in_use("/photos/unknown.jpg")
    record = store.face_records([int(sealed[0])])[int(sealed[0])]
    assert record.image_location == f"/photos/{'b' * 64}.jpg", "a sealed location opens"
    store.delete_faces([int(plain[0]), int(sealed[0])])
    assert not store.location_in_use(f"/photos/{'a' * 64}.jpg")
    assert not store.location_in_use(f"/photos/{'b' * 64}.jpg")


def test_given_a_collection_that_begins_sealing_then_its_locations_still_read_back(
    store: MetadataStore,
) -> None:
    faces = add(store, "a" * 64, collection="press")
    store.set_collection_policy("press", replace(POLICY, seal_locations=True))
    person = store.get_or_create_person("Ada")
    store.assign_faces(person, faces.tolist())
    assert store.seal_identifying_data() == 0, "everything was sealed when written"
    [image] = store.images("press")
    assert image.location == f"/photos/{'a' * 64}.jpg"
    assert store.location_in_use(image.location)
    assert store.persons()[0].name == "Ada"
    assert store.face_landmarks(faces.tolist()) == {int(faces[0]): [[0.5, 0.0]] * 5}


def test_given_templates_sealed_with_another_key_then_they_are_quarantined(
    store: MetadataStore, tmp_path: Path
) -> None:
    good = add(store, "a" * 64, n=2)
    other = other_key_store(store, tmp_path)
    try:
        foreign = add(other, "b" * 64, n=1)
    finally:
        other.close()
    assert store.quarantined_face_ids() == []
    assert store.scan_templates(MODEL) == foreign.tolist()
    assert store.quarantined_face_ids() == foreign.tolist()
    assert store.indexed_face_ids(MODEL).tolist() == good.tolist()
    [(ids, vectors)] = list(store.embeddings(MODEL))
    assert ids.tolist() == good.tolist() and vectors.shape == (2, MODEL.dim)
    assert store.counts().faces_accepted == 3, "a quarantined face stays in the store"
    store.delete_faces(foreign.tolist())
    assert store.quarantined_face_ids() == [], "deleted: no longer quarantined"


def test_given_a_new_key_then_every_template_is_resealed_with_it(
    store: MetadataStore, tmp_path: Path
) -> None:
    faces = add(store, "a" * 64, n=2, rejected=1)
    store.assign_faces(store.get_or_create_person("Ada"), faces.tolist())
    before = next(store.embeddings(MODEL))[1]
    new = TemplateCipher(generate_key())
    # 2 templates, 3 landmark sets (the rejected face's too) and 1 name
    assert store.reseal_templates(store.cipher, new) == 6
    assert store.cipher is new
    assert store.get_meta(KEY_ID_META) == new.key_id
    np.testing.assert_array_equal(next(store.embeddings(MODEL))[1], before)
    assert store.persons()[0].name == "Ada"
    assert store.person_id("Ada") is not None, "the blind index follows the key"
    old_key = other_key_store(store, tmp_path)
    try:
        assert old_key.scan_templates(MODEL) == faces.tolist(), "the old key opens nothing"
    finally:
        old_key.close()


def test_given_persons_then_they_are_found_renamed_and_merged(store: MetadataStore) -> None:
    a = add(store, "a" * 64, n=2)
    b = add(store, "b" * 64, n=1)
    ada = store.get_or_create_person("Ada Lovelace")
    bob = store.get_or_create_person("Bob")
    assert store.person_id("  ada LOVELACE ") == ada, "case- and space-insensitive"
    assert store.person_id("Nobody") is None
    store.assign_faces(ada, a.tolist())
    store.assign_faces(bob, b.tolist())
    store.rename_person(bob, "Alan")
    assert [(p.name, p.face_ids) for p in store.persons()] == [
        ("Ada Lovelace", a.tolist()),
        ("Alan", b.tolist()),
    ], "sorted by name"
    assert store.person_id("Bob") is None and store.person_id("alan") == bob
    with pytest.raises(ConflictError, match="exists already"):
        store.rename_person(bob, "ADA LOVELACE")
    with pytest.raises(NotFoundError, match="no person with id 999"):
        store.rename_person(999, "X")
    with pytest.raises(InvalidArgumentError, match="themselves"):
        store.merge_persons(ada, ada)
    with pytest.raises(NotFoundError, match="no person with id 999"):
        store.merge_persons(ada, 999)
    store.merge_persons(ada, bob)
    [merged] = store.persons()
    assert merged.id == ada and merged.face_ids == [*a.tolist(), *b.tolist()]
    assert store.counts().persons == 1


def test_given_a_healthy_database_then_no_integrity_problem_and_deletions_are_final(
    store: MetadataStore, tmp_path: Path
) -> None:
    faces = add(store, "a" * 64, n=3)
    store.delete_faces([int(faces[0])])
    store.checkpoint()
    assert store.integrity_problems() == []
    assert store.indexed_face_ids(MODEL).tolist() == faces[1:].tolist()
    if store.backend == "sqlite":
        wal = tmp_path / "facelens.db-wal"
        assert not wal.exists() or wal.stat().st_size == 0, "no copy left in the log"


def test_given_faces_of_many_sizes_then_counts_give_them_by_band_and_reason(
    store: MetadataStore,
) -> None:
    assert (store.counts().faces_accepted_by_size, store.counts().faces_rejected_by_size) == (
        {},
        {},
    )
    sizes = {True: [39, 40, 63, 64, 128, 900], False: [0, 23, 24, 31, 32, 39]}
    faces = [
        replace(face, quality=replace(face.quality, size_px=size))
        for face, size in zip(analysis(6, 6).faces, sizes[True] + sizes[False], strict=True)
    ]
    blurry = replace(faces[-1], quality=replace(faces[-1].quality, rejection_reason="too_blurry"))
    store.ensure_collection("c")
    store.add_image(
        collection="c",
        location="/photos/sizes.jpg",
        sha256="s" * 64,
        analysis=replace(analysis(0), faces=[*faces, blurry]),
        provenance=Provenance(),
    )
    counts = store.counts()
    assert (counts.faces_accepted, counts.faces_rejected) == (6, 7)
    assert counts.faces_accepted_by_size == {
        "32-40px": 1,
        "40-64px": 2,
        "64-128px": 1,
        ">=128px": 2,
    }
    assert list(counts.faces_accepted_by_size) == ["32-40px", "40-64px", "64-128px", ">=128px"]
    assert counts.faces_rejected_by_size == {
        "too_blurry": {"32-40px": 1},
        "too_small": {"<24px": 2, "24-32px": 2, "32-40px": 2},
    }


def test_given_changes_to_the_faces_then_the_gallery_generation_rises_and_only_then(
    store: MetadataStore, tmp_path: Path
) -> None:
    seen = [store.gallery_generation()]

    def rose() -> bool:
        seen.append(store.gallery_generation())
        return seen[-1] > seen[-2]

    faces = add(store, "a" * 64, n=2)
    assert rose(), "faces added"
    image = store.images("c", 0, 10)[0].image_id
    store.set_collection_policy("c", POLICY)
    store.set_meta("unrelated", "x")
    person = store.get_or_create_person("Ada")
    store.assign_faces(person, [int(faces[1])])
    assert not rose(), "a policy, a meta value or a person changes no indexed face"
    store.delete_faces([int(faces[0])])
    assert rose(), "a face deleted"
    add(store, "b" * 64, n=1)
    assert rose()
    store.delete_images([image])
    assert rose(), "an image deleted, its faces with it"
    other = other_key_store(store, tmp_path)
    try:
        add(other, "c" * 64, n=1)
    finally:
        other.close()
    assert rose()
    store.scan_templates(MODEL)
    assert rose(), "a template quarantined"
    store.rename_person(person, "Ada L.")
    assert not rose()
    store.delete_collection("c")
    assert rose(), "a collection deleted"


def test_given_images_in_bulk_then_each_is_stored_as_one_by_one_and_repeats_are_skipped(
    store: MetadataStore,
) -> None:
    add(store, "a" * 64, n=1)
    new = [NewImage(f"/photos/{c}.jpg", c * 64, analysis(n, seed=n), Provenance())
           for n, c in ((2, "b"), (1, "a"), (1, "c"), (3, "b"))]  # fmt: skip
    added = store.add_images("c", new)
    assert [a is None for a in added] == [False, True, False, True]
    b, c = added[0], added[2]
    assert b is not None and c is not None
    assert len(b.face_ids) == 2 and len(c.face_ids) == 1
    assert store.image_face_ids("c", "b" * 64).tolist() == b.face_ids.tolist()
    [(_, vectors)] = list(store.embeddings(MODEL, face_ids=[*b.face_ids, *c.face_ids]))
    assert np.allclose(vectors, np.vstack([b.vectors, c.vectors]), atol=1e-6)
    assert store.counts().images == 3
    with pytest.raises(NotFoundError):
        store.add_images("nowhere", new[:1])
