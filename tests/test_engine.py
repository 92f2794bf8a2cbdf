"""The engine end to end on real photos: real models, real SQLite store, real FAISS index."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import facelens
from facelens.config import Settings
from facelens.engine import INDEX_MODEL_KEY, Engine
from facelens.errors import (
    InvalidArgumentError,
    ModelMismatchError,
    NoFaceFoundError,
    NotFoundError,
)
from facelens.pipeline.analyse import FacePipeline
from facelens.types import Provenance, SearchResult
from tests.conftest import SEARCH_WHY, Declare

GALLERY = "gallery"


@pytest.fixture(scope="module")
def gallery_dir(
    declare: Declare,
    tmp_path_factory: pytest.TempPathFactory,
    pipeline: FacePipeline,
    photos: Path,
    astronaut: Path,
    grace_hopper: Path,
) -> Path:
    """A data folder holding Obama (2 photos), Biden, Eileen Collins and Grace Hopper."""
    data = tmp_path_factory.mktemp("gallery") / "data"
    with Engine(Settings(data_dir=data), pipeline=pipeline) as engine:
        declare(engine, GALLERY)
        report = engine.ingest(
            [
                photos / "obama.jpg",
                photos / "obama3.jpg",
                photos / "biden.jpg",
                astronaut,
                grace_hopper,
            ],
            GALLERY,
            provenance=Provenance(origin_url="https://example.org/press-kit"),
            workers=1,
        )
    assert report.images_ingested == 5 and not report.failures
    return data


@pytest.fixture
def gallery(gallery_dir: Path, tmp_path: Path, pipeline: FacePipeline) -> Iterator[Engine]:
    """A private copy of the gallery, so a test may change it."""
    data = tmp_path / "data"
    shutil.copytree(gallery_dir, data)
    with Engine(Settings(data_dir=data), pipeline=pipeline) as engine:
        yield engine


def top_match_names(result: SearchResult) -> list[str]:
    return [Path(m.image_location).name for m in result.faces[0].matches]


def test_given_a_gallery_when_searching_another_photo_then_the_person_is_rank_one(
    gallery: Engine, photos: Path
) -> None:
    result = gallery.search(photos / "obama2.jpg", top_k=5, **SEARCH_WHY)
    assert len(result.faces) == 1
    matches = result.faces[0].matches
    assert len(matches) == 5
    assert {Path(m.image_location).name for m in matches[:2]} == {"obama.jpg", "obama3.jpg"}
    assert matches[0].is_match and matches[1].is_match
    assert not any(m.is_match for m in matches[2:]), "Biden and the others are below threshold"
    assert [m.similarity for m in matches] == sorted((m.similarity for m in matches), reverse=True)
    assert -1.0 <= matches[-1].similarity <= matches[0].similarity <= 1.0
    assert matches[0].collection == GALLERY
    assert matches[0].provenance.origin_url == "https://example.org/press-kit"
    assert result.threshold == gallery.settings.match_threshold
    assert result.model == gallery.model


def test_given_a_probe_whose_face_is_too_small_for_probe_detection_then_it_is_still_found(
    gallery: Engine, photos: Path
) -> None:
    # With hog, probes are searched without upsampling (faces from about 70 px); a 53 px face
    # is found by trying again with the ingest detector (one upsampling).
    small = np.asarray(Image.open(photos / "obama2.jpg").reduce(6))
    hog = FacePipeline(
        Settings(detector="hog"),
        aligner=gallery.pipeline.aligner,
        embedder=gallery.pipeline.embedder,
    )
    assert not hog.analyse(small, probe=True).accepted_faces
    assert len(hog.analyse_probe(small).accepted_faces) == 1
    # MTCNN, the default, finds it at once (its probe pyramid starts at 40 px faces but
    # reaches down to about 23 px), and the search answers with his photos.
    assert len(gallery.pipeline.analyse(small, probe=True).accepted_faces) == 1
    result = gallery.search(small, top_k=2, **SEARCH_WHY)
    assert {Path(m.image_location).name for m in result.faces[0].matches} == {
        "obama.jpg",
        "obama3.jpg",
    }


def test_given_probe_bytes_or_arrays_then_the_same_result_as_a_path(
    gallery: Engine, photos: Path
) -> None:
    path = photos / "obama2.jpg"
    by_path = gallery.search(path, **SEARCH_WHY)
    by_bytes = gallery.search(path.read_bytes(), **SEARCH_WHY)
    by_array = gallery.search(np.asarray(Image.open(path).convert("RGB")), **SEARCH_WHY)
    ids = [m.face_id for m in by_path.faces[0].matches]
    assert [m.face_id for m in by_bytes.faces[0].matches] == ids
    assert [m.face_id for m in by_array.faces[0].matches] == ids


def test_given_pairs_of_photos_then_verify_tells_same_from_different(
    engine: Engine, photos: Path, astronaut: Path, grace_hopper: Path
) -> None:
    same = engine.verify(photos / "obama.jpg", photos / "obama2.jpg")
    assert same.same_person and same.similarity >= same.threshold
    for a, b in [(photos / "obama.jpg", photos / "biden.jpg"), (astronaut, grace_hopper)]:
        different = engine.verify(a, b)
        assert not different.same_person, (a.name, b.name, different.similarity)
        assert different.similarity < different.threshold
    assert engine.verify(photos / "obama2.jpg", photos / "obama.jpg").similarity == pytest.approx(
        same.similarity, abs=1e-6
    )


def test_given_a_deleted_image_then_its_faces_never_come_back(
    gallery: Engine, photos: Path, pipeline: FacePipeline
) -> None:
    first = gallery.search(photos / "obama2.jpg", **SEARCH_WHY).faces[0].matches[0]
    removed = gallery.delete(image=first.image_id)
    assert removed == 1
    assert first.face_id not in gallery.index.ids()
    after = gallery.search(photos / "obama2.jpg", top_k=10, **SEARCH_WHY)
    assert first.face_id not in [m.face_id for m in after.faces[0].matches]
    assert first.image_id not in [m.image_id for m in after.faces[0].matches]
    gallery.close()
    with Engine(gallery.settings, pipeline=pipeline) as reopened:
        assert first.face_id not in reopened.index.ids()
        again = reopened.search(photos / "obama2.jpg", top_k=10, **SEARCH_WHY)
        assert first.face_id not in [m.face_id for m in again.faces[0].matches]


def test_given_the_same_files_again_then_nothing_is_added(
    gallery: Engine, photos: Path, astronaut: Path, grace_hopper: Path, tmp_path: Path
) -> None:
    before = gallery.stats()
    copy = tmp_path / "renamed-copy.jpg"
    shutil.copy(photos / "obama.jpg", copy)  # same content under another name
    report = gallery.ingest(
        [
            photos / "obama.jpg",
            photos / "obama3.jpg",
            photos / "biden.jpg",
            astronaut,
            grace_hopper,
            copy,
        ],
        GALLERY,
        workers=1,
    )
    assert report.images_ingested == 0
    assert report.duplicates_skipped == 6
    assert gallery.stats() == before


def test_given_a_restart_then_store_and_index_are_as_before(
    gallery: Engine, photos: Path, pipeline: FacePipeline
) -> None:
    stats = gallery.stats()
    result = gallery.search(photos / "obama2.jpg", **SEARCH_WHY)
    gallery.close()
    with Engine(gallery.settings, pipeline=pipeline) as reopened:
        assert reopened.last_repair.added == 0 and reopened.last_repair.removed == 0
        assert reopened.stats() == stats
        assert reopened.search(photos / "obama2.jpg", **SEARCH_WHY) == result


def test_given_a_lost_index_then_it_is_rebuilt_from_the_store(
    gallery: Engine, photos: Path, pipeline: FacePipeline
) -> None:
    expected = gallery.search(photos / "obama2.jpg", **SEARCH_WHY)
    gallery.close()
    shutil.rmtree(gallery.settings.data_dir / "index")
    with Engine(gallery.settings, pipeline=pipeline) as reopened:
        assert (
            reopened.last_repair.added == 5
        )  # one per photo; the badge false positive is not indexed
        assert reopened.search(photos / "obama2.jpg", **SEARCH_WHY) == expected
        assert reopened.rebuild_index() == 5


def test_given_a_crash_between_store_and_index_then_the_store_wins(
    gallery: Engine, photos: Path, pipeline: FacePipeline
) -> None:
    top = gallery.search(photos / "obama2.jpg", **SEARCH_WHY).faces[0].matches[0]
    # The process dies after the store committed a delete, before the index heard of it.
    gallery.store.delete_images([top.image_id])
    gallery.close()
    with Engine(gallery.settings, pipeline=pipeline) as reopened:
        assert reopened.last_repair.removed == 1
        assert top.face_id not in reopened.index.ids()
        assert reopened.index.count() == reopened.stats().faces_indexed


def test_given_a_batch_with_bad_files_then_each_fails_clearly_and_the_rest_is_ingested(
    declare: Declare, engine: Engine, photos: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    shutil.copy(photos / "obama.jpg", folder / "obama.jpg")
    shutil.copy(photos / "biden.jpg", folder / "biden.jpg")
    (folder / "truncated.jpg").write_bytes((photos / "obama3.jpg").read_bytes()[:5000])
    (folder / "not-a-photo.png").write_text("hello, I am text")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("not picked up from a folder walk")
    missing = tmp_path / "missing.jpg"
    declare(engine, "batch")
    report = engine.ingest([folder, missing], "batch", workers=2)
    assert report.images_ingested == 2
    assert report.faces_indexed == 2
    failures = {Path(f.location).name: f for f in report.failures}
    assert set(failures) == {"truncated.jpg", "not-a-photo.png", "empty.jpg", "missing.jpg"}
    assert failures["truncated.jpg"].error == "corrupt_image"
    assert failures["not-a-photo.png"].error == "unsupported_image"
    assert "not an image format" in failures["not-a-photo.png"].message
    assert failures["empty.jpg"].error == "unsupported_image"
    assert failures["missing.jpg"].error == "image_not_found"
    assert engine.index.count() == 2


def test_given_an_interrupted_ingest_then_a_rerun_resumes_where_it_stopped(
    declare: Declare, engine: Engine, photos: Path
) -> None:
    files = [photos / n for n in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")]

    def interrupt_after_two(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    declare(engine, "c")
    with pytest.raises(KeyboardInterrupt):
        engine.ingest(files, "c", workers=1, progress=interrupt_after_two)
    assert engine.stats().images == 2
    assert engine.index.count() == 2
    report = engine.ingest(files, "c", workers=1)
    assert report.duplicates_skipped == 2 and report.images_ingested == 2
    assert engine.stats().images == 4 and engine.index.count() == 4


def test_given_two_workers_then_the_same_faces_as_one(
    declare: Declare, settings: Settings, pipeline: FacePipeline, photos: Path, tmp_path: Path
) -> None:
    files = [photos / n for n in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")]
    one = Engine(settings.model_copy(update={"data_dir": tmp_path / "one"}), pipeline=pipeline)
    two = Engine(settings.model_copy(update={"data_dir": tmp_path / "two"}), pipeline=pipeline)
    declare(one, "c")
    declare(two, "c")
    r1 = one.ingest(files, "c", workers=1)
    r2 = two.ingest(files, "c", workers=2)
    assert (
        (r1.images_ingested, r1.faces_indexed) == (r2.images_ingested, r2.faces_indexed) == (4, 4)
    )
    probe = photos / "obama2.jpg"
    s1 = [
        (Path(m.image_location).name, round(m.similarity, 5))
        for m in one.search(probe, **SEARCH_WHY).faces[0].matches
    ]
    s2 = [
        (Path(m.image_location).name, round(m.similarity, 5))
        for m in two.search(probe, **SEARCH_WHY).faces[0].matches
    ]
    assert s1 == s2


def test_given_collections_then_search_can_be_limited_to_some(
    declare: Declare, gallery: Engine, photos: Path
) -> None:
    declare(gallery, "other")
    gallery.ingest([photos / "obama2.jpg"], "other", workers=1)
    everywhere = gallery.search(photos / "obama.jpg", top_k=10, **SEARCH_WHY)
    assert {m.collection for m in everywhere.faces[0].matches} == {GALLERY, "other"}
    only_other = gallery.search(photos / "obama.jpg", top_k=10, collections=["other"], **SEARCH_WHY)
    assert [m.collection for m in only_other.faces[0].matches] == ["other"]
    with pytest.raises(NotFoundError, match="no collection named 'nope'"):
        gallery.search(photos / "obama.jpg", collections=["nope"], **SEARCH_WHY)


def test_given_an_enrolled_person_then_search_names_them_and_deleting_them_erases_faces(
    gallery: Engine, photos: Path
) -> None:
    person = gallery.enrol(
        "Barack Obama", [photos / "obama.jpg", photos / "obama3.jpg"], collection=GALLERY
    )
    assert len(person.face_ids) == 2
    assert gallery.stats().images == 5, "enrolling stored photos does not store them again"
    top = gallery.search(photos / "obama2.jpg", **SEARCH_WHY).faces[0].matches[0]
    assert top.person_name == "Barack Obama" and top.person_id == person.id
    assert gallery.delete(person=person.id) == 2
    after = gallery.search(photos / "obama2.jpg", top_k=10, **SEARCH_WHY).faces[0].matches
    assert not set(person.face_ids) & {m.face_id for m in after}
    assert gallery.persons() == []


def test_given_a_photo_without_a_face_then_search_says_so(engine: Engine) -> None:
    blank = np.full((200, 300, 3), 127, dtype=np.uint8)
    with pytest.raises(NoFaceFoundError, match="no face found"):
        engine.search(blank, **SEARCH_WHY)
    with pytest.raises(NoFaceFoundError):
        engine.verify(blank, blank)
    with pytest.raises(InvalidArgumentError, match="RGB uint8"):
        engine.search(np.zeros((10, 10), dtype=np.uint8), **SEARCH_WHY)


def test_given_a_data_folder_of_another_model_then_opening_it_is_refused(
    settings: Settings, pipeline: FacePipeline
) -> None:
    with Engine(settings, pipeline=pipeline) as engine:
        engine.store.set_meta(INDEX_MODEL_KEY, "some_other_model@2/512")
    with pytest.raises(ModelMismatchError, match="some_other_model@2/512"):
        Engine(settings, pipeline=pipeline)


def test_given_facelens_open_then_an_engine_on_that_folder(tmp_path: Path) -> None:
    with facelens.open(tmp_path / "x") as engine:
        assert engine.settings.data_dir == tmp_path / "x"
        assert engine.stats().faces_indexed == 0
    assert (tmp_path / "x" / "facelens.db").is_file()


def test_given_a_photo_without_faces_in_a_batch_then_it_is_recorded_with_no_faces(
    declare: Declare, engine: Engine, photos: Path, tmp_path: Path
) -> None:
    wall = tmp_path / "wall.png"
    Image.new("RGB", (320, 240), (90, 90, 90)).save(wall)
    declare(engine, "c")
    report = engine.ingest([wall, photos / "biden.jpg"], "c", workers=1)
    assert report.images_ingested == 2 and report.faces_indexed == 1 and not report.failures
    again = engine.ingest([wall], "c", workers=1)
    assert again.duplicates_skipped == 1, "a face-less photo is not analysed twice"
