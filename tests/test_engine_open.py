"""Opening a data folder at scale (issue 18): an index written at the store's present gallery
generation opens without reading every face id; anything else (a crash between store and
index, another process sharing the folder, an index lost) is checked face by face, as
before. Searches within collections keep the collections' face ids while the gallery
generation stands. Real photos, models, store and index."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from facelens.config import Settings
from facelens.engine import Engine
from facelens.engine.index_sync import GENERATION_FILE
from facelens.errors import NotFoundError
from facelens.pipeline.analyse import FacePipeline
from facelens.store.lock import FolderLock
from facelens.store.sql import SqlStore
from tests.conftest import SEARCH_WHY, Declare


@pytest.fixture(scope="module")
def folder(
    declare: Declare, tmp_path_factory: pytest.TempPathFactory, pipeline: FacePipeline,
    photos: Path,
) -> Path:  # fmt: skip
    data = tmp_path_factory.mktemp("open") / "data"
    with Engine(Settings(data_dir=data), pipeline=pipeline) as engine:
        for name, photo in (("press", "obama.jpg"), ("archive", "obama3.jpg"),
                            ("archive", "biden.jpg")):  # fmt: skip
            if name not in engine.store.collection_names():
                declare(engine, name)
            engine.ingest([photos / photo], name, workers=1)
    return data


@pytest.fixture
def data(folder: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(folder, copy)
    return copy


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often the store is asked for every indexed face id, and for collections' ids."""
    counted = {"indexed_face_ids": 0, "face_ids_in_collections": 0}
    for name in counted:
        original: Callable[..., Any] = getattr(SqlStore, name)

        def counting(self: SqlStore, *args: Any, _name: str = name, _f: Any = original) -> Any:
            counted[_name] += 1
            return _f(self, *args)

        monkeypatch.setattr(SqlStore, name, counting)
    return counted


def opened(data: Path, pipeline: FacePipeline, **settings: Any) -> Engine:
    return Engine(Settings(data_dir=data, **settings), pipeline=pipeline)


def test_given_a_folder_closed_cleanly_then_it_opens_without_reading_every_face_id(
    data: Path, pipeline: FacePipeline, calls: dict[str, int], photos: Path
) -> None:
    with opened(data, pipeline) as engine:
        faces = engine.index.count()
        result = engine.search(photos / "obama2.jpg", **SEARCH_WHY)
    calls["indexed_face_ids"] = 0
    with opened(data, pipeline) as engine:
        assert calls["indexed_face_ids"] == 0, "no face id read to open"
        assert engine.index.count() == faces == 3
        assert engine.search(photos / "obama2.jpg", **SEARCH_WHY) == result
    with opened(data, pipeline, index_check_on_open=True) as engine:
        assert calls["indexed_face_ids"] == 1, "asked for: every face checked"
        assert engine.last_repair.added == engine.last_repair.removed == 0


def test_given_a_crash_between_store_and_index_then_the_open_checks_every_face(
    data: Path, pipeline: FacePipeline, calls: dict[str, int], photos: Path
) -> None:
    with opened(data, pipeline) as engine:
        top = engine.search(photos / "obama2.jpg", **SEARCH_WHY).faces[0].matches[0]
        # The process dies after the store committed a delete, before the index heard of it.
        engine.store.delete_images([top.image_id])
    calls["indexed_face_ids"] = 0
    with opened(data, pipeline) as engine:
        assert calls["indexed_face_ids"] == 1
        assert engine.last_repair.removed == 1
        assert top.face_id not in engine.index.ids()
    calls["indexed_face_ids"] = 0
    with opened(data, pipeline):
        assert calls["indexed_face_ids"] == 0, "whole again, and noted so"


def test_given_a_lost_index_then_the_open_rebuilds_it_whatever_was_noted(
    data: Path, pipeline: FacePipeline
) -> None:
    assert (data / GENERATION_FILE).is_file()
    shutil.rmtree(data / "index")
    with opened(data, pipeline) as engine:
        assert engine.last_repair.added == 3
        assert engine.index.count() == 3


def test_given_another_process_on_the_folder_then_nothing_is_noted_and_the_next_open_checks(
    data: Path, pipeline: FacePipeline, calls: dict[str, int], photos: Path, declare: Declare
) -> None:
    other = FolderLock(data)  # another holder: its writes could not be told from ours
    other.acquire_shared()
    try:
        with opened(data, pipeline) as engine:
            engine.ingest([photos / "obama2.jpg"], "press", workers=1)
        assert not (data / GENERATION_FILE).exists()
    finally:
        other.release()
    calls["indexed_face_ids"] = 0
    with opened(data, pipeline) as engine:
        assert calls["indexed_face_ids"] == 1
        assert engine.index.count() == 4


def test_given_searches_within_collections_then_their_ids_are_read_once_per_generation(
    data: Path, pipeline: FacePipeline, calls: dict[str, int], photos: Path, declare: Declare
) -> None:
    with opened(data, pipeline) as engine:
        for _ in range(3):
            found = engine.search(photos / "obama2.jpg", collections=["archive"], **SEARCH_WHY)
        assert calls["face_ids_in_collections"] == 1
        assert {m.collection for m in found.faces[0].matches} == {"archive"}
        engine.ingest([photos / "obama2.jpg"], "archive", workers=1)
        again = engine.search(photos / "obama2.jpg", collections=["archive"], **SEARCH_WHY)
        assert calls["face_ids_in_collections"] == 2, "the gallery changed: read again"
        assert len(again.faces[0].matches) == len(found.faces[0].matches) + 1
        # A collection deleted, even an empty one, is not searched from memory.
        declare(engine, "empty")
        engine.search(photos / "obama2.jpg", collections=["empty"], **SEARCH_WHY)
        engine.delete(collection="empty")
        with pytest.raises(NotFoundError):
            engine.search(photos / "obama2.jpg", collections=["empty"], **SEARCH_WHY)


def test_given_a_gallery_scored_against_a_cohort_then_its_vectors_come_from_the_index(
    data: Path, pipeline: FacePipeline, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 10 million faces the cohort's 5,000 templates took 1.2 s to read from SQLite on a
    cold page cache; the index's vector file holds the same vectors and gives them in 0.12 s.
    Scores are the same whichever gives them. Their persons come from the person index, not
    face by face (0.65 s more)."""
    small = {"score_min_gallery_faces": 2, "score_cohort_size": 10}
    asked: list[object] = []
    embeddings = SqlStore.embeddings

    def counting(self: SqlStore, *args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs.get("face_ids"))
        return embeddings(self, *args, **kwargs)

    monkeypatch.setattr(SqlStore, "embeddings", counting)
    monkeypatch.setattr(SqlStore, "face_owners", lambda *_: pytest.fail("face by face"))
    with opened(data, pipeline, **small) as engine:
        monkeypatch.setattr(engine.index, "stored_vectors", lambda ids: None)
        from_store = engine.search(photos / "obama2.jpg", **SEARCH_WHY)
        assert engine._cohort is not None and len(engine._cohort.ids) == 3
    assert asked, "an index that keeps no vectors: the store gives them"
    asked.clear()
    with opened(data, pipeline, **small) as engine:
        from_index = engine.search(photos / "obama2.jpg", **SEARCH_WHY)
        assert engine._cohort is not None and len(engine._cohort.ids) == 3
    assert asked == [], "no template read from the store"
    assert all(m.normalised_score is not None for m in from_index.faces[0].matches)
    assert from_index.faces[0].matches == from_store.faces[0].matches


@pytest.fixture(autouse=True)
def _no_leftover(data: Path) -> Iterator[None]:
    yield
    assert not (data / (GENERATION_FILE + ".tmp")).exists()
