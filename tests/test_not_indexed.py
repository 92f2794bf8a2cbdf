"""What was not indexed, and how small the faces are: a face under the size gate is stored as
rejected with its reason and shown, in its size band, in every ingest summary (Python, the
command line, the HTTP API, its background jobs) and in ``stats``; search results say when
a match or the probe face is small. Real photos, models, store and index throughout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from skimage import data

from facelens.api.app import create_app
from facelens.config import Settings
from facelens.engine import Engine
from facelens.face_sizes import SIZE_BANDS, SMALL_FACE_PX, in_band_order, size_band
from facelens.ingest_report import IngestReport
from facelens.pipeline.analyse import FacePipeline
from facelens.security.accounts import Role, create_account
from tests.conftest import PRESS_ARCHIVE, SEARCH_WHY, TEST_POLICY, Cli, Declare
from tests.test_api import finished_job

#: What the photo below holds: Grace Hopper (214 px, indexed) and Obama at 22 px (rejected).
INDEXED_BY_SIZE = {">=128px": 1}
REJECTED_BY_SIZE = {"too_small": {"<24px": 1}}


def hopper_and_small_obama(photos: Path, grace_hopper: Path, folder: Path) -> Path:
    """Grace Hopper's photo with Obama's, downscaled twelvefold (the detector boxes his face at
    22 px: under the 24 px gate), pasted into its lower left corner."""
    obama = Image.open(photos / "obama.jpg").convert("RGB")
    small = obama.resize((round(obama.width / 12), round(obama.height / 12)), Image.Resampling.BOX)
    canvas = Image.open(grace_hopper).convert("RGB")
    canvas.paste(small, (0, canvas.height - small.height))
    path = folder / "hopper-and-small-obama.jpg"
    canvas.save(path, quality=95)
    return path


@pytest.fixture(scope="module")
def small_face_photo(
    tmp_path_factory: pytest.TempPathFactory, photos: Path, grace_hopper: Path
) -> Path:
    return hopper_and_small_obama(photos, grace_hopper, tmp_path_factory.mktemp("small"))


@pytest.fixture(scope="module")
def face_free_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scikit-image's cup of coffee: no face."""
    path = tmp_path_factory.mktemp("coffee") / "coffee.png"
    Image.fromarray(data.coffee()).save(path)  # type: ignore[no-untyped-call]
    return path


def test_given_sizes_then_each_falls_in_exactly_one_band_and_the_gate_is_an_edge() -> None:
    for size in range(0, 300):
        assert sum(band.holds(size) for band in SIZE_BANDS) == 1, size
    assert (size_band(37), size_band(40), size_band(63), size_band(64)) == (
        "32-40px",
        "40-64px",
        "40-64px",
        "64-128px",
    )
    assert size_band(SMALL_FACE_PX - 1) != size_band(SMALL_FACE_PX)
    assert list(in_band_order({">=128px": 1, "<24px": 2, "40-64px": 3})) == [
        "<24px",
        "40-64px",
        ">=128px",
    ]


def test_given_reports_by_size_then_merge_adds_them_band_by_band() -> None:
    first, second = IngestReport("c"), IngestReport("c")
    first.count_face(37, "too_small")
    first.count_face(200, None)
    second.count_face(35, "too_small")
    second.count_face(20, "too_small")
    second.count_face(50, "too_blurry")
    second.count_face(50, None)
    first.merge(second)
    assert first.faces_indexed == 2
    assert first.faces_indexed_by_size == {">=128px": 1, "40-64px": 1}
    assert first.faces_rejected == {"too_small": 3, "too_blurry": 1}
    assert first.faces_rejected_by_size == {
        "too_small": {"32-40px": 2, "<24px": 1},
        "too_blurry": {"40-64px": 1},
    }


def test_given_a_face_under_the_gate_then_it_is_stored_rejected_and_reported_in_its_band(
    engine: Engine, declare: Declare, small_face_photo: Path
) -> None:
    declare(engine, "press")
    report = engine.ingest([small_face_photo], "press", workers=1)
    assert (report.images_ingested, report.faces_indexed) == (1, 1)
    assert report.faces_rejected == {"too_small": 1}
    assert report.faces_indexed_by_size == INDEXED_BY_SIZE
    assert report.faces_rejected_by_size == REJECTED_BY_SIZE
    # Stored with its reason (stats counts the store's rows), out of the index.
    stats = engine.stats()
    assert (stats.faces_indexed, stats.faces_rejected, stats.index_count) == (1, 1, 1)
    assert stats.faces_indexed_by_size == INDEXED_BY_SIZE
    assert stats.faces_rejected_by_size == REJECTED_BY_SIZE


def test_given_a_face_free_photo_then_nothing_is_indexed_and_the_report_shows_no_face(
    engine: Engine, declare: Declare, face_free_photo: Path
) -> None:
    declare(engine, "press")
    report = engine.ingest([face_free_photo], "press", workers=1)
    assert report.images_ingested == 1
    assert (report.faces_indexed, report.faces_rejected, report.failures) == (0, {}, [])
    assert (report.faces_indexed_by_size, report.faces_rejected_by_size) == ({}, {})
    stats = engine.stats()
    assert (stats.images, stats.faces_indexed, stats.faces_rejected) == (1, 0, 0)
    assert (stats.faces_indexed_by_size, stats.faces_rejected_by_size) == ({}, {})


def test_given_the_cli_then_ingest_and_stats_show_faces_by_reason_and_band(
    tmp_path: Path, small_face_photo: Path, face_free_photo: Path, photos: Path
) -> None:
    cli = Cli(tmp_path / "data")
    cli("collection", "create", "press", *PRESS_ARCHIVE)
    report = cli.json("ingest", small_face_photo, face_free_photo, "-c", "press")
    assert (report["images_ingested"], report["faces_indexed"]) == (2, 1)
    assert report["faces_indexed_by_size"] == INDEXED_BY_SIZE
    assert report["faces_rejected_by_size"] == REJECTED_BY_SIZE

    summary = cli("ingest", photos / "biden.jpg", "-c", "press")
    assert "faces by size" in summary and ">=128px" in summary
    assert "too small" not in summary, "only reasons that occur get a column"
    stats = cli.json("stats")
    assert stats["faces_indexed_by_size"] == {">=128px": 2}
    assert stats["faces_rejected_by_size"] == REJECTED_BY_SIZE
    shown = cli("stats")
    assert "too small (under 24 px)" in shown
    [row] = [line for line in shown.splitlines() if "<24px" in line]
    assert row.replace("│", " ").replace("|", " ").split() == ["<24px", "-", "1"]


def test_given_the_api_then_uploads_and_jobs_report_faces_by_reason_and_band(
    tmp_path: Path, pipeline: FacePipeline, small_face_photo: Path, face_free_photo: Path
) -> None:
    root = tmp_path / "allowed"
    (root / "press").mkdir(parents=True)
    (root / "press" / small_face_photo.name).write_bytes(small_face_photo.read_bytes())
    settings = Settings(data_dir=tmp_path / "data", ingest_allowed_roots=[root])
    with TestClient(create_app(settings, pipeline)) as client:
        engine = client.app.state.service.engine  # type: ignore[attr-defined]
        engine.create_collection("web", TEST_POLICY)
        engine.create_collection("press", TEST_POLICY)
        key = {"X-API-Key": create_account(engine.store, "enroller", Role.ENROLLER)[1]}
        files = [
            ("files", (p.name, p.read_bytes(), "image/jpeg"))
            for p in (small_face_photo, face_free_photo)
        ]
        uploaded = client.post("/collections/web/images", headers=key, files=files)
        assert uploaded.status_code == 201, uploaded.text
        body = uploaded.json()
        assert [f["outcome"] for f in body["files"]] == ["stored", "stored"]
        assert body["faces_indexed_by_size"] == INDEXED_BY_SIZE
        assert body["faces_rejected_by_size"] == REJECTED_BY_SIZE

        job = client.post(
            "/jobs/ingest", headers=key, json={"folder": str(root / "press"), "collection": "press"}
        ).json()
        state = finished_job(client, key, job["job_id"])
        assert state["status"] == "done", state
        assert state["report"]["faces_indexed_by_size"] == INDEXED_BY_SIZE
        assert state["report"]["faces_rejected_by_size"] == REJECTED_BY_SIZE


def test_given_small_faces_then_search_results_flag_the_probe_and_the_match(
    engine: Engine, declare: Declare, photos: Path, tmp_path: Path
) -> None:
    declare(engine, "press")
    small_obama = tmp_path / "small-obama.jpg"
    Image.open(photos / "obama.jpg").convert("RGB").reduce(5).save(small_obama)  # 53 px
    engine.ingest([small_obama, photos / "biden.jpg"], "press", workers=1)
    small_probe = np.asarray(Image.open(photos / "obama2.jpg").convert("RGB").reduce(6))
    [face] = engine.search(small_probe, top_k=2, **SEARCH_WHY).faces
    assert face.probe_size_px == face.probe_box.short_side < SMALL_FACE_PX
    assert face.probe_small_face
    by_name = {Path(m.image_location).name: m for m in face.matches}
    assert by_name["small-obama.jpg"].size_px < SMALL_FACE_PX
    assert by_name["small-obama.jpg"].small_face
    assert by_name["biden.jpg"].size_px >= SMALL_FACE_PX
    assert not by_name["biden.jpg"].small_face
    [large] = engine.search(photos / "obama2.jpg", top_k=1, **SEARCH_WHY).faces
    assert (large.probe_small_face, large.probe_size_px) == (False, large.probe_box.short_side)


@pytest.fixture(scope="module")
def face_of_35_px(
    tmp_path_factory: pytest.TempPathFactory, photos: Path, pipeline: FacePipeline
) -> Path:
    """Obama's photo scaled so that his face (the detector's box at full size) is 35 px on its
    short side, pasted on scikit-image's coffee: the size of a face in a crowd or an event."""
    obama = Image.open(photos / "obama.jpg").convert("RGB")
    # His face is the largest detection (MTCNN also finds a blurred patch of the background).
    full = max(pipeline.detector.detect(np.asarray(obama)), key=lambda d: d.box.short_side)
    scale = 35 / full.box.short_side
    small = obama.resize(
        (round(obama.width * scale), round(obama.height * scale)), Image.Resampling.LANCZOS
    )
    canvas = Image.fromarray(data.coffee())  # type: ignore[no-untyped-call]
    canvas.paste(small, (40, 60))
    path = tmp_path_factory.mktemp("face35") / "coffee-and-obama-35px.jpg"
    canvas.save(path, quality=95)
    return path


def test_given_a_face_of_35_px_then_it_is_indexed_at_the_default_settings_and_found(
    engine: Engine, declare: Declare, face_of_35_px: Path, photos: Path
) -> None:
    declare(engine, "press")
    report = engine.ingest([face_of_35_px], "press", workers=1)
    assert (report.faces_indexed, report.faces_rejected) == (1, {}), report
    assert list(report.faces_indexed_by_size) == ["32-40px"], report.faces_indexed_by_size
    [face] = engine.search(photos / "obama2.jpg", top_k=1, **SEARCH_WHY).faces
    [match] = face.matches
    assert match.is_match and Path(match.image_location).name == face_of_35_px.name
    assert match.small_face


def test_given_hog_and_its_40_px_gate_then_a_face_of_35_px_is_rejected_as_too_small(
    tmp_path: Path, declare: Declare, face_of_35_px: Path
) -> None:
    """Why the defaults are MTCNN and 24 px (docs/accuracy.md): dlib HOG at one upsampling
    boxes faces no smaller than about 37 px, so the gate it needs (40) loses a 35 px face."""
    settings = Settings(data_dir=tmp_path / "data", detector="hog", min_face_size_px=40)
    with Engine(settings, pipeline=FacePipeline(settings)) as engine:
        declare(engine, "press")
        report = engine.ingest([face_of_35_px], "press", workers=1)
    assert (report.faces_indexed, report.faces_rejected) == (0, {"too_small": 1}), report
    assert report.faces_rejected_by_size == {"too_small": {"32-40px": 1}}
