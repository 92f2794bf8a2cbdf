"""The engine on the milvus backend (Milvus Lite in the data folder's index folder): the same
photos ingested as on the default backend give the same faces, found in the same order."""

from __future__ import annotations

from pathlib import Path

import pytest

from facelens.config import Settings
from facelens.engine import Engine
from facelens.pipeline.analyse import FacePipeline
from facelens.types import SearchResult
from tests.conftest import SEARCH_WHY, Declare

GALLERY = "gallery"


def ingest_and_search(
    settings: Settings, pipeline: FacePipeline, declare: Declare, gallery: list[Path], probe: Path
) -> SearchResult:
    with Engine(settings, pipeline=pipeline) as engine:
        declare(engine, GALLERY)
        report = engine.ingest(gallery, GALLERY, workers=1)
        assert report.images_ingested == len(gallery) and not report.failures
        return engine.search(probe, top_k=5, **SEARCH_WHY)


def test_given_photos_on_milvus_when_searched_then_the_person_first_as_on_the_default_backend(
    tmp_path: Path,
    pipeline: FacePipeline,
    declare: Declare,
    photos: Path,
    astronaut: Path,
    grace_hopper: Path,
) -> None:
    gallery = [photos / "obama.jpg", photos / "obama3.jpg", photos / "biden.jpg"]
    gallery += [astronaut, grace_hopper]
    probe = photos / "obama2.jpg"
    settings = Settings(data_dir=tmp_path / "milvus", index_backend="milvus")
    on_milvus = ingest_and_search(settings, pipeline, declare, gallery, probe)
    default = ingest_and_search(
        Settings(data_dir=tmp_path / "default"), pipeline, declare, gallery, probe
    )

    matches = on_milvus.faces[0].matches
    assert {Path(m.image_location).name for m in matches[:2]} == {"obama.jpg", "obama3.jpg"}
    assert matches[0].is_match and matches[1].is_match
    expected = default.faces[0].matches
    assert [m.face_id for m in matches] == [m.face_id for m in expected]
    assert [m.similarity for m in matches] == pytest.approx(
        [m.similarity for m in expected], abs=1e-5
    )
    assert (tmp_path / "milvus" / "index" / "milvus.db").exists()

    # Reopened, the engine finds the index in step with the store: nothing to repair.
    with Engine(settings, pipeline=pipeline) as engine:
        assert engine.last_repair.added == engine.last_repair.removed == 0
        assert engine.index.count() == len(engine.index.ids()) > 0
        again = engine.search(probe, top_k=5, **SEARCH_WHY)
    assert [m.face_id for m in again.faces[0].matches] == [m.face_id for m in matches]
