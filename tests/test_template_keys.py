"""Issue 6, item 9: templates encrypted at rest. A data folder copied without its key yields no
usable template; the key never lives in the data folder; `facelens keys rotate` re-seals
everything, and an interrupted rotation is finished on the next open. Real photos and engine."""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import create_engine, event
from typer.testing import CliRunner

from facelens.config import Settings
from facelens.engine import Engine
from facelens.errors import (
    DecryptionError,
    InvalidArgumentError,
    NoLegalBasisError,
    TemplateKeyLocationError,
    TemplateKeyMismatchError,
    TemplateKeyMissingError,
)
from facelens.pipeline.analyse import FacePipeline
from facelens.security.crypto import (
    TemplateCipher,
    encode_key,
    generate_key,
    read_key_file,
    write_key_file,
)
from facelens.security.keys import KEY_ID_META, key_dir, next_key_file
from facelens.store.sql import MIGRATIONS_DIR
from tests.conftest import PRESS_ARCHIVE, SEARCH_WHY, TEST_POLICY, Cli, Declare

runner = CliRunner()
WHY = ("--purpose", "test search", "--case-ref", "T-2")

#: The stored templates: a rejected face (obama.jpg's blurred background patch) is stored
#: with its reason and never embedded.
EMBEDDINGS_SQL = "SELECT embedding FROM faces WHERE embedding IS NOT NULL"
EMBEDDED_IDS_SQL = "SELECT id FROM faces WHERE embedding IS NOT NULL ORDER BY id"


def gallery(settings: Settings, pipeline: FacePipeline, photos: Path, declare: Declare) -> None:
    with Engine(settings, pipeline=pipeline) as engine:
        declare(engine, "press")
        engine.ingest([photos / "obama.jpg", photos / "biden.jpg"], "press", workers=1)


def plain_vectors(engine: Engine) -> list[bytes]:
    return [
        np.asarray(v, dtype="<f4").tobytes()
        for _, batch in engine.store.embeddings(engine.model)
        for v in batch
    ]


def files_under(folder: Path) -> list[bytes]:
    return [p.read_bytes() for p in folder.rglob("*") if p.is_file()]


def test_given_a_data_folder_copied_without_its_key_then_no_template_is_usable(
    tmp_path: Path, pipeline: FacePipeline, photos: Path, declare: Declare
) -> None:
    key_file = tmp_path / "keys" / "template.key"
    settings = Settings(data_dir=tmp_path / "data", template_key_file=key_file)
    gallery(settings, pipeline, photos, declare)
    with Engine(settings, pipeline=pipeline) as engine:
        vectors = plain_vectors(engine)
        assert engine.search(photos / "obama2.jpg", **SEARCH_WHY).faces[0].matches[0].is_match
    assert len(vectors) == 2
    on_disk = files_under(tmp_path / "data")
    for vector in vectors:  # neither the store, its log, nor any index file holds one
        assert not any(vector in content for content in on_disk)
        assert not any(vector[:64] in content for content in on_disk)

    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "data", copy)
    other_key = tmp_path / "elsewhere" / "template.key"
    write_key_file(other_key, generate_key())
    with pytest.raises(TemplateKeyMismatchError, match="sealed with key"):
        Engine(Settings(data_dir=copy, template_key_file=other_key), pipeline=pipeline)
    missing = tmp_path / "nowhere" / "template.key"
    with pytest.raises(TemplateKeyMissingError, match="no key file"):
        Engine(Settings(data_dir=copy, template_key_file=missing), pipeline=pipeline)
    assert not missing.exists(), "a wrong guess makes no key"
    with sqlite3.connect(copy / "facelens.db") as connection:
        blobs = [b for (b,) in connection.execute(EMBEDDINGS_SQL)]
    with pytest.raises(Exception, match="does not open"):
        TemplateCipher(read_key_file(other_key)).open_vector(blobs[0])
    assert TemplateCipher(read_key_file(key_file)).open_vector(blobs[0]).shape == (128,)


def test_given_a_key_file_inside_the_data_folder_then_it_is_refused(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    settings = Settings(data_dir=tmp_path / "data", template_key_file=tmp_path / "data" / "k")
    with pytest.raises(TemplateKeyLocationError, match="inside the data folder"):
        Engine(settings, pipeline=pipeline)


def test_given_keys_rotate_then_everything_is_resealed_and_the_old_key_opens_nothing(
    tmp_path: Path, photos: Path
) -> None:
    data = tmp_path / "data"
    key_file = tmp_path / "keys" / "template.key"
    cli = Cli(data, env={"FACELENS_TEMPLATE_KEY_FILE": str(key_file)})

    cli("collection", "create", "press", *PRESS_ARCHIVE)
    cli("ingest", str(photos / "obama.jpg"), str(photos / "biden.jpg"), "-c", "press")
    old_key = key_file.read_bytes()
    shutil.copy(key_file, tmp_path / "old.key")
    with sqlite3.connect(data / "facelens.db") as connection:
        before = sorted(b for (b,) in connection.execute(EMBEDDINGS_SQL))
    assert "re-sealed with the new key" in cli("keys", "rotate")
    with sqlite3.connect(data / "facelens.db") as connection:
        after = sorted(b for (b,) in connection.execute(EMBEDDINGS_SQL))
        (folder,) = connection.execute("SELECT value FROM meta WHERE key = 'folder_id'").fetchone()
    own = key_dir(Settings()) / folder / "template.key"
    assert read_key_file(own) != read_key_file(tmp_path / "old.key")
    assert not next_key_file(own).exists()
    assert key_file.read_bytes() == old_key  # shared: left to the folders still using it
    assert not set(before) & set(after)
    assert "MATCH" in cli("search", str(photos / "obama2.jpg"), *WHY)
    with pytest.raises(DecryptionError):  # the old key opens none of the templates
        TemplateCipher(read_key_file(tmp_path / "old.key")).open(after[0])
    shutil.copytree(data, tmp_path / "copy")  # a copy of the folder, with only the old key
    shutil.rmtree(own.parent)
    result = Cli(tmp_path / "copy", env={"FACELENS_TEMPLATE_KEY_FILE": str(tmp_path / "old.key")})
    opened = result.invoke("stats")
    assert opened.exit_code != 0 and "sealed with key" in opened.output
    with sqlite3.connect(data / "facelens.db") as connection:
        actions = [a for (a,) in connection.execute("SELECT action FROM audit_log")]
    assert "keys rotate" in actions


def test_given_a_rotation_cut_short_then_the_next_open_finishes_it(
    tmp_path: Path, pipeline: FacePipeline, photos: Path, declare: Declare
) -> None:
    key_file = tmp_path / "keys" / "template.key"
    settings = Settings(data_dir=tmp_path / "data", template_key_file=key_file)
    gallery(settings, pipeline, photos, declare)
    new_key = generate_key()
    with Engine(settings, pipeline=pipeline) as engine:
        # The first steps of rotate_key in an older version (which rotated the shared key
        # file), then the process dies before the key file moves.
        write_key_file(next_key_file(key_file), new_key)
        engine.store.reseal_templates(engine.cipher, TemplateCipher(new_key))
        own = own_key(settings, engine)
    with Engine(settings, pipeline=pipeline) as engine:
        assert engine.store.get_meta(KEY_ID_META) == TemplateCipher(new_key).key_id
        assert engine.search(photos / "obama2.jpg", **SEARCH_WHY).faces[0].matches[0].is_match
    # Finished into the folder's own key file: the shared one may be other folders' key.
    assert read_key_file(own) == new_key and not next_key_file(key_file).exists()
    assert read_key_file(key_file) != new_key


def test_given_the_key_in_the_environment_then_it_works_and_rotation_asks_for_a_file(
    tmp_path: Path, pipeline: FacePipeline, photos: Path, declare: Declare
) -> None:
    from pydantic import SecretStr

    key = SecretStr(encode_key(generate_key()))
    settings = Settings(data_dir=tmp_path / "data", template_key=key)
    gallery(settings, pipeline, photos, declare)
    with Engine(settings, pipeline=pipeline) as engine:
        assert engine.search(photos / "obama2.jpg", **SEARCH_WHY).faces[0].matches[0].is_match
        with pytest.raises(InvalidArgumentError, match="configure template_key_file"):
            engine.rotate_key()
    with pytest.raises(TemplateKeyMissingError, match="base64"):
        Engine(
            settings.model_copy(update={"template_key": SecretStr("not a key")}), pipeline=pipeline
        )


def test_given_templates_stored_in_the_clear_by_an_older_version_then_open_seals_them(
    tmp_path: Path, pipeline: FacePipeline, photos: Path, declare: Declare
) -> None:
    settings = Settings(data_dir=tmp_path / "data", template_key_file=tmp_path / "k" / "key")
    gallery(settings, pipeline, photos, declare)
    with Engine(settings, pipeline=pipeline) as engine:
        vectors = plain_vectors(engine)
    database = tmp_path / "data" / "facelens.db"
    with sqlite3.connect(database) as connection:  # what a version before sealing wrote
        ids = [i for (i,) in connection.execute(EMBEDDED_IDS_SQL)]
        for face_id, vector in zip(ids, vectors, strict=True):
            connection.execute("UPDATE faces SET embedding = ? WHERE id = ?", (vector, face_id))
        connection.execute("DELETE FROM meta WHERE key = ?", (KEY_ID_META,))
    with Engine(settings, pipeline=pipeline) as engine:
        assert engine.search(photos / "obama2.jpg", **SEARCH_WHY).faces[0].matches[0].is_match
    with sqlite3.connect(database) as connection:
        blobs = [b for (b,) in connection.execute(EMBEDDINGS_SQL)]
    assert all(len(b) == 512 + 28 for b in blobs) and not set(blobs) & set(vectors)


def database_at(data: Path, revision: str) -> SqlEngine:
    """A new store in ``data`` migrated to ``revision`` only, as an older release left it."""
    data.mkdir()
    database = create_engine(f"sqlite:///{data / 'facelens.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with database.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return database


def test_given_a_database_of_the_previous_release_then_it_upgrades_keeping_ids_and_sealing(
    tmp_path: Path, pipeline: FacePipeline, photos: Path
) -> None:
    """Migration 0005 rebuilds the faces table: ids, the never-reuse sequence and the data
    survive; the plain templates of 0004 are sealed on first open; the old collection waits
    for its legal basis."""
    data = tmp_path / "data"
    database = database_at(data, "0004")
    face = pipeline.analyse(pipeline.load(photos / "obama.jpg")).accepted_faces[0]
    assert face.embedding is not None
    plain = face.embedding.vector.astype("<f4").tobytes()
    model = pipeline.model
    with database.begin() as connection:
        run = connection.exec_driver_sql
        run("INSERT INTO models (id, name, version, dim) VALUES (1, ?, ?, ?)",
            (model.name, model.version, model.dim))  # fmt: skip
        run("INSERT INTO collections (id, name, created_at) VALUES (1, 'archive', '2025-01-01')")
        run("INSERT INTO images (id, collection_id, location, sha256, width, height, ingested_at)"
            " VALUES (1, 1, ?, ?, 100, 100, '2025-01-01')",
            (str(photos / "obama.jpg"), "a" * 64))  # fmt: skip
        for face_id in (1, 2, 3):
            run("INSERT INTO faces (id, image_id, x1, y1, x2, y2, landmarks, detector,"
                " detector_score, size_px, sharpness, status, model_id, embedding, created_at)"
                " VALUES (?, 1, 1, 1, 50, 50, '[]', 'hog', 1.0, 49, 50.0, 'accepted', 1, ?,"
                " '2025-01-01')", (face_id, plain))  # fmt: skip
        run("DELETE FROM faces WHERE id IN (2, 3)")  # ids 2 and 3 were used: never again
        run("INSERT INTO meta (key, value) VALUES ('index_model', ?)", (str(model),))
    database.dispose()

    settings = Settings(data_dir=data, template_key_file=tmp_path / "keys" / "key")
    with Engine(settings, pipeline=pipeline) as engine:
        assert engine.store.indexed_face_ids(model).tolist() == [1]
        assert engine.search(photos / "obama2.jpg", **SEARCH_WHY).faces[0].matches[0].face_id == 1
        with pytest.raises(NoLegalBasisError, match="declares no legal basis"):
            engine.ingest([photos / "biden.jpg"], "archive", workers=1)
        engine.set_collection_policy("archive", TEST_POLICY)
        report = engine.ingest([photos / "biden.jpg"], "archive", workers=1)
        assert report.faces_indexed == 1
        assert engine.store.indexed_face_ids(model).tolist() == [1, 4]
    with sqlite3.connect(data / "facelens.db") as connection:
        blobs = [b for (b,) in connection.execute(EMBEDDINGS_SQL)]
    assert plain not in blobs and all(len(b) == 512 + 28 for b in blobs)


# --- keys per data folder -------------------------------------------------------------------


def own_key(settings: Settings, engine: Engine) -> Path:
    assert settings.key_dir is not None
    return settings.key_dir / engine.folder_id / "template.key"


def test_given_two_folders_sharing_a_key_file_when_one_rotates_then_the_other_still_opens(
    tmp_path: Path, pipeline: FacePipeline, photos: Path, declare: Declare
) -> None:
    shared = tmp_path / "keys" / "template.key"
    env = {"FACELENS_TEMPLATE_KEY_FILE": str(shared)}
    first, second = (Settings(data_dir=tmp_path / n, template_key_file=shared) for n in "ab")
    for settings in (first, second):
        gallery(settings, pipeline, photos, declare)
    shared_key = shared.read_bytes()

    output = Cli(first.data_dir, env=env)("keys", "rotate")
    # Before keys were per folder, the rotation rewrote the shared file: exit 7 here.
    assert "MATCH" in Cli(second.data_dir, env=env)("search", str(photos / "obama2.jpg"), *WHY)
    assert shared.read_bytes() == shared_key, "a key file other folders use is never rewritten"
    assert "re-sealed with the new key" in output and str(shared) in output  # left, and why
    with Engine(second, pipeline=pipeline) as engine:
        assert engine.search(photos / "obama2.jpg", **SEARCH_WHY).faces[0].matches[0].is_match
    with Engine(first, pipeline=pipeline) as engine:
        assert engine.search(photos / "obama2.jpg", **SEARCH_WHY).faces[0].matches[0].is_match
        assert read_key_file(own_key(first, engine)) != read_key_file(shared)


def test_given_a_folder_made_before_folder_ids_then_it_opens_unchanged_and_rotates_to_its_own_key(
    tmp_path: Path,
    pipeline: FacePipeline,
    photos: Path,
    declare: Declare,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    legacy = tmp_path / "home" / ".config" / "facelens" / "template.key"
    write_key_file(legacy, generate_key())  # the one key every folder used before
    old, neighbour = (Settings(data_dir=tmp_path / n, template_key_file=None) for n in "ab")
    for settings in (old, neighbour):
        # As an older version made it: sealed with the shared key, no folder id, no audit key.
        made = settings.model_copy(update={"template_key_file": legacy})
        gallery(made, pipeline, photos, declare)
        with sqlite3.connect(settings.data_dir / "facelens.db") as connection:
            (made_id,) = connection.execute(
                "SELECT value FROM meta WHERE key = 'folder_id'"
            ).fetchone()
            connection.execute("DELETE FROM meta WHERE key IN ('folder_id', 'audit_chain')")
        assert settings.key_dir is not None
        shutil.rmtree(settings.key_dir / made_id)
    legacy_key = legacy.read_bytes()

    with Engine(old, pipeline=pipeline) as engine:
        folder_id = engine.folder_id
        assert engine.search(photos / "obama2.jpg", **SEARCH_WHY).faces[0].matches[0].is_match
        assert not own_key(old, engine).exists()  # still the shared key, unchanged
        engine.rotate_key()
        assert own_key(old, engine).is_file()
    assert legacy.read_bytes() == legacy_key
    with Engine(old, pipeline=pipeline) as engine:
        assert engine.folder_id == folder_id  # stable
        assert engine.search(photos / "obama2.jpg", **SEARCH_WHY).faces[0].matches[0].is_match
    with Engine(neighbour, pipeline=pipeline) as engine:
        assert engine.search(photos / "obama2.jpg", **SEARCH_WHY).faces[0].matches[0].is_match
        assert engine.folder_id != folder_id


def test_given_no_key_configured_then_each_new_folder_gets_its_own_key(
    tmp_path: Path, pipeline: FacePipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    made = []
    for name in "ab":
        settings = Settings(data_dir=tmp_path / name, template_key_file=None)
        with Engine(settings, pipeline=pipeline) as engine:
            made.append(read_key_file(own_key(settings, engine)))
            assert (own_key(settings, engine).parent / "audit.key").is_file()
    assert made[0] != made[1]
    assert not (tmp_path / "home" / ".config" / "facelens" / "template.key").exists()
    inside = Settings(data_dir=tmp_path / "c", key_dir=tmp_path / "c" / "keys")
    with pytest.raises(TemplateKeyLocationError, match="inside the data folder"):
        Engine(inside, pipeline=pipeline)


def test_given_a_rotation_to_a_folder_key_cut_short_then_the_next_open_finishes_it(
    tmp_path: Path, pipeline: FacePipeline, photos: Path, declare: Declare
) -> None:
    shared = tmp_path / "keys" / "template.key"
    settings = Settings(data_dir=tmp_path / "data", template_key_file=shared)
    gallery(settings, pipeline, photos, declare)
    new_key = generate_key()
    with Engine(settings, pipeline=pipeline) as engine:
        target = own_key(settings, engine)
        # The first steps of rotate_key, then the process dies before the key file moves.
        write_key_file(next_key_file(target), new_key)
        engine.store.reseal_templates(engine.cipher, TemplateCipher(new_key))
    with Engine(settings, pipeline=pipeline) as engine:
        assert engine.search(photos / "obama2.jpg", **SEARCH_WHY).faces[0].matches[0].is_match
    assert read_key_file(target) == new_key and not next_key_file(target).exists()
    assert read_key_file(shared) != new_key


def raw_database(data: Path) -> bytes:
    """Every byte of the database and its write-ahead log, as a copied folder would hold."""
    return b"".join(p.read_bytes() for p in sorted(data.glob("facelens.db*")) if p.is_file())


def test_given_a_named_person_then_the_database_holds_no_name_landmark_or_sealed_path(
    tmp_path: Path, pipeline: FacePipeline, photos: Path, declare: Declare
) -> None:
    settings = Settings(data_dir=tmp_path / "data", template_key_file=tmp_path / "k" / "key")
    named = tmp_path / "Ada Quartermaine-Lovelace" / "ada-at-home.jpg"
    named.parent.mkdir()
    shutil.copy(photos / "obama.jpg", named)
    owned = settings.data_dir / "uploads" / "abc" / "Ada-Quartermaine-party.jpg"
    owned.parent.mkdir(parents=True)
    shutil.copy(photos / "obama3.jpg", owned)
    with Engine(settings, pipeline=pipeline) as engine:
        declare(engine, "private", policy=replace(TEST_POLICY, seal_locations=True))
        person = engine.enrol("Ada Quartermaine", [named], collection="private")
        engine.ingest([owned], "private", workers=1)
        [face_id] = person.face_ids
        landmarks = engine.store.face_landmarks([face_id])[face_id]
        assert len(landmarks) == 5
        raw = raw_database(settings.data_dir)
        assert b"Quartermaine" not in raw and b"ada-at-home" not in raw
        assert b"Ada-Quartermaine-party" not in raw
        for x, y in landmarks:
            assert f"[{x}, {y}]".encode() not in raw and f"[{x},{y}]".encode() not in raw
        # Everything reads back: the name, the location, the landmarks; lookups by name.
        assert engine.store.get_or_create_person(" ada quartermaine ") == person.id
        record = engine.store.face_records([face_id])[face_id]
        assert (record.person_name, record.image_location) == ("Ada Quartermaine", str(named))
        top = engine.search(photos / "obama2.jpg", **SEARCH_WHY).faces[0].matches[0]
        assert top.person_name == "Ada Quartermaine" and top.image_location in (
            str(named),
            str(owned.resolve()),
        )
        assert engine.store.location_in_use(str(named))
        key_id = engine.rotate_key().key_id
        assert engine.store.get_meta(KEY_ID_META) == key_id
        assert engine.store.persons()[0].name == "Ada Quartermaine"
        assert engine.store.face_landmarks([face_id])[face_id] == landmarks
        assert engine.store.get_or_create_person("Ada Quartermaine") == person.id
        # Erasure still finds facelens's own copy by its sealed location, and removes it.
        [image] = [i for i in engine.store.images("private") if i.location == str(owned)]
        engine.delete(image=image.image_id)
        assert not owned.exists()
        assert not engine.store.location_in_use(str(owned))
    assert b"Quartermaine" not in raw_database(settings.data_dir)


def test_given_a_database_of_0005_then_names_landmarks_and_locations_are_sealed_on_open(
    tmp_path: Path, pipeline: FacePipeline, photos: Path
) -> None:
    data = tmp_path / "data"
    database = database_at(data, "0005")
    face = pipeline.analyse(pipeline.load(photos / "obama.jpg")).accepted_faces[0]
    assert face.embedding is not None
    model = pipeline.model
    location = str(tmp_path / "Ada Quartermaine" / "portrait.jpg")
    with database.begin() as connection:
        run = connection.exec_driver_sql
        run("INSERT INTO models (id, name, version, dim) VALUES (1, ?, ?, ?)",
            (model.name, model.version, model.dim))  # fmt: skip
        run("INSERT INTO collections (id, name, created_at, basis, basis_text, jurisdictions,"
            " purpose, retention_days) VALUES (1, 'archive', '2026-01-01', 'other', 'tests',"
            " '[\"EU\"]', 'testing', 30)")  # fmt: skip
        run("INSERT INTO persons (id, name, created_at) VALUES (1, 'Ada Quartermaine',"
            " '2026-01-01')")  # fmt: skip
        run("INSERT INTO images (id, collection_id, location, sha256, width, height, ingested_at)"
            " VALUES (1, 1, ?, ?, 100, 100, '2026-01-01')", (location, "a" * 64))  # fmt: skip
        run("INSERT INTO faces (id, image_id, x1, y1, x2, y2, landmarks, detector,"
            " detector_score, size_px, sharpness, status, model_id, embedding, person_id,"
            " created_at) VALUES (1, 1, 1, 1, 50, 50, '[[12.34, 56.78]]', 'hog', 1.0, 49, 50.0,"
            " 'accepted', 1, ?, 1, '2026-01-01')",
            (face.embedding.vector.astype("<f4").tobytes(),))  # fmt: skip
        run("INSERT INTO meta (key, value) VALUES ('index_model', ?)", (str(model),))
    database.dispose()

    settings = Settings(data_dir=data, template_key_file=tmp_path / "keys" / "key")
    with Engine(settings, pipeline=pipeline) as engine:
        assert [p.name for p in engine.store.persons()] == ["Ada Quartermaine"]
        assert engine.store.face_landmarks([1]) == {1: [[12.34, 56.78]]}
        assert engine.store.get_or_create_person("Ada Quartermaine") == 1
        raw = raw_database(data)
        assert b"Quartermaine" in raw, "the location stays plain: the collection did not ask"
        engine.set_collection_policy("archive", replace(TEST_POLICY, seal_locations=True))
        assert engine.store.image_record(1).location == location
        assert engine.store.location_in_use(location)
    raw = raw_database(data)
    assert b"Quartermaine" not in raw and b"12.34" not in raw


def test_given_a_folder_sealed_already_then_opening_it_again_seals_nothing(
    engine: Engine, photos: Path, declare: Declare
) -> None:
    """Opening must not rewrite every face (it did: JSON keeps None as the text null)."""
    declare(engine, "press")
    engine.ingest([photos / "obama.jpg", photos / "biden.jpg"], "press", workers=1)
    engine.assign(
        "Joe Biden", [engine.search(photos / "biden.jpg", **SEARCH_WHY).faces[0].matches[0].face_id]
    )
    assert engine.store.seal_identifying_data() == 0


def test_given_a_folder_sealed_already_then_opening_it_reads_no_face_row(
    engine: Engine, photos: Path, declare: Declare
) -> None:
    """The sweep for plain values read every face row on every open: 4.3 s of each open at 10
    million faces. Once a sweep leaves nothing plain, later opens skip it."""
    declare(engine, "press")
    engine.ingest([photos / "obama.jpg"], "press", workers=1)
    statements: list[str] = []
    event.listen(engine.store._engine, "before_cursor_execute",  # type: ignore[attr-defined]
           lambda _c, _cur, statement, *_: statements.append(statement))  # fmt: skip
    assert engine.store.seal_identifying_data() == 0
    assert not [s for s in statements if "FROM faces" in s or "FROM images" in s], statements
