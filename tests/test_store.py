"""The metadata store contract, run against every registered backend: the schema, and the core
of ingest and deletion (each area in full: ``tests/test_store_{gallery,privacy,access}.py``)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from facelens.config import Settings
from facelens.errors import NotFoundError
from facelens.security.crypto import TemplateCipher, generate_key
from facelens.store import MetadataStore, available_stores, create_store
from facelens.store.schema import Base
from facelens.store.sql.connection import HEAD_REVISION, alembic_config
from facelens.types import Box, ModelId, Provenance
from tests.postgres_server import PostgresServer
from tests.store_support import MODEL, add, analysis, open_store


@pytest.fixture(params=available_stores())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    yield from open_store(request, tmp_path)


def test_given_a_migrated_database_then_it_matches_the_orm_schema(tmp_path: Path) -> None:
    store = create_store(Settings(data_dir=tmp_path), TemplateCipher(generate_key()))
    store.close()
    engine = create_engine(f"sqlite:///{tmp_path / 'facelens.db'}")
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_given_the_migrations_then_the_head_revision_the_store_opens_at_is_the_newest() -> None:
    """Opening a store compares its revision with ``HEAD_REVISION``, not Alembic's scripts:
    a new migration must move it, or stores would never be migrated to it."""
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD_REVISION


def test_given_a_store_at_the_newest_revision_then_opening_it_never_imports_alembic(
    tmp_path: Path,
) -> None:
    """Alembic costs about 0.13 s of every start-up (``facelens search`` has 3 s in all): it
    loads for a migration only."""
    settings = Settings(data_dir=tmp_path)
    create_store(settings, TemplateCipher(generate_key())).close()  # migrated here
    script = (
        "import sys; from pathlib import Path; from facelens.config import Settings;"
        "from facelens.security.crypto import TemplateCipher, generate_key;"
        "from facelens.store import create_store;"
        f"settings = Settings(data_dir=Path({str(tmp_path)!r}));"
        "s = create_store(settings, TemplateCipher(generate_key()));"
        "print(len(s.collection_names()), 'alembic' in sys.modules)"
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert ran.stdout.split() == ["0", "False"]


def test_given_a_migrated_postgresql_database_then_it_matches_the_orm_schema(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.create_database("schema_check")  # empty: every migration runs
    try:
        settings = Settings(data_dir=tmp_path, store_url=url)
        create_store(settings, TemplateCipher(generate_key())).close()
        engine = create_engine(url)
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        engine.dispose()
        assert diff == []
    finally:
        postgres.drop_database("schema_check")


def test_given_an_image_with_provenance_then_it_comes_back_with_its_faces(
    store: MetadataStore,
) -> None:
    captured = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    store.ensure_collection("archive")
    added = store.add_image(
        collection="archive",
        location="/photos/a.jpg",
        sha256="a" * 64,
        analysis=analysis(2, 1),
        provenance=Provenance("https://example.org/a.jpg", "https://example.org/", captured, "L-1"),
    )
    assert added is not None
    assert len(added.face_ids) == 2 and added.vectors.shape == (2, MODEL.dim)
    records = store.face_records(added.face_ids.tolist())
    record = records[int(added.face_ids[0])]
    assert record.collection == "archive"
    assert record.image_location == "/photos/a.jpg"
    assert record.box == Box(0, 0, 50, 60)
    assert record.provenance.origin_url == "https://example.org/a.jpg"
    assert record.provenance.licence_ref == "L-1"
    assert record.provenance.captured_at is not None
    assert record.provenance.captured_at.replace(tzinfo=UTC) == captured
    ids, vectors = next(store.embeddings(MODEL, face_ids=added.face_ids.tolist()))
    np.testing.assert_array_equal(ids, added.face_ids)
    np.testing.assert_allclose(vectors, added.vectors)
    counts = store.counts()
    assert (counts.images, counts.faces_accepted, counts.faces_rejected) == (1, 2, 1)
    assert store.image_face_ids("archive", "a" * 64).tolist() == added.face_ids.tolist()


def test_given_the_same_content_twice_then_stored_once_per_collection(
    store: MetadataStore,
) -> None:
    add(store, "x" * 64)
    again = store.add_image(
        collection="c",
        location="/other/path.jpg",
        sha256="x" * 64,
        analysis=analysis(1),
        provenance=Provenance(),
    )
    assert again is None
    assert store.known_image_hashes("c") == {"x" * 64}
    add(store, "x" * 64, collection="d")  # another collection may hold it too
    assert store.counts().images == 2


def test_given_many_faces_then_embeddings_come_back_in_batches_all_of_them(
    store: MetadataStore,
) -> None:
    expected = np.concatenate([add(store, f"{i:064d}", n=3) for i in range(7)])
    batches = list(store.embeddings(MODEL, batch_size=4))
    assert [len(ids) for ids, _ in batches] == [4, 4, 4, 4, 4, 1]
    np.testing.assert_array_equal(np.concatenate([ids for ids, _ in batches]), expected)
    np.testing.assert_array_equal(store.indexed_face_ids(MODEL), expected)
    assert list(store.embeddings(ModelId("unknown", "1", 4))) == []


def test_given_deletions_then_the_indexed_ids_removed_are_returned(store: MetadataStore) -> None:
    a = add(store, "a" * 64, n=2, rejected=1)
    b = add(store, "b" * 64, n=1)
    c = add(store, "c" * 64, n=2, collection="other")
    image_a = store.face_records([int(a[0])])[int(a[0])].image_id
    assert store.delete_images([image_a]).face_ids.tolist() == a.tolist()
    assert store.delete_faces([int(b[0])]).face_ids.tolist() == b.tolist()
    assert store.counts().images == 1, "an image left without faces goes too"
    assert store.delete_collection("other").face_ids.tolist() == c.tolist()
    assert store.collection_names() == ["c"]
    assert store.counts().faces_accepted == 0
    assert store.face_records([*a.tolist(), *b.tolist(), *c.tolist()]) == {}
    with pytest.raises(NotFoundError, match="no image with id 12345"):
        store.delete_images([12345])
    with pytest.raises(NotFoundError, match="no collection named 'nope'"):
        store.delete_collection("nope")


def test_given_a_deleted_face_then_its_id_is_never_reused(store: MetadataStore) -> None:
    first = add(store, "a" * 64)
    store.delete_faces(first.tolist())
    second = add(store, "b" * 64)
    assert int(second[0]) > int(first[0])


def test_given_faces_of_persons_then_face_persons_names_each_one_whichever_way_it_reads(
    store: MetadataStore,
) -> None:
    """Read from the person index when few faces have a person, face by face when many do:
    the same answer."""
    faces = add(store, "a" * 64, n=6).tolist()
    ada, bob = store.get_or_create_person("Ada"), store.get_or_create_person("Bob")
    store.assign_faces(ada, faces[:2])
    store.assign_faces(bob, faces[2:3])
    asked = [*faces, 999]  # 3 faces with a person, under 4 per id asked about: the index
    assert store.face_persons(asked) == {faces[0]: ada, faces[1]: ada, faces[2]: bob}
    assert store.face_persons([faces[1]]) == {faces[1]: ada}
    store.assign_faces(bob, faces[3:6])  # 6 faces with a person, over 4 per id: one by one
    assert store.face_persons([faces[4]]) == {faces[4]: bob}
    assert store.face_persons([faces[0], 999]) == {faces[0]: ada}
    assert store.face_persons([]) == {}


def test_given_a_person_then_faces_are_assigned_and_deleted_with_them(
    store: MetadataStore,
) -> None:
    faces = add(store, "a" * 64, n=2)
    other = add(store, "b" * 64, n=1)
    person = store.get_or_create_person("Ada")
    assert store.get_or_create_person("Ada") == person
    store.assign_faces(person, faces.tolist())
    [listed] = store.persons()
    assert listed.name == "Ada" and listed.face_ids == faces.tolist()
    assert store.face_records([int(faces[0])])[int(faces[0])].person_name == "Ada"
    # Owners (photo, person) without opening anything sealed: what calibration needs.
    owners = store.face_owners([*faces.tolist(), int(other[0]), 999])
    image = store.face_records([int(faces[0])])[int(faces[0])].image_id
    assert owners == {
        int(faces[0]): (image, person),
        int(faces[1]): (image, person),
        int(other[0]): (owners[int(other[0])][0], None),
    }
    assert owners[int(other[0])][0] != image
    with pytest.raises(NotFoundError, match="no face with id 999"):
        store.assign_faces(person, [999])
    assert store.delete_person(person).face_ids.tolist() == faces.tolist()
    assert store.persons() == []
    assert store.indexed_face_ids(MODEL).tolist() == other.tolist()


def test_given_collections_then_face_ids_filter_by_them(store: MetadataStore) -> None:
    a = add(store, "a" * 64, n=2, collection="one")
    add(store, "b" * 64, n=2, collection="two")
    assert store.face_ids_in_collections(["one"], MODEL).tolist() == a.tolist()
    with pytest.raises(NotFoundError, match="no collection named 'three'"):
        store.face_ids_in_collections(["three"], MODEL)


def test_given_meta_then_it_is_kept(store: MetadataStore) -> None:
    assert store.get_meta("k") is None
    store.set_meta("k", "v1")
    store.set_meta("k", "v2")
    assert store.get_meta("k") == "v2"
