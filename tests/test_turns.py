"""Photos turned sideways without an EXIF orientation: search and verify photos are tried
turned and say which turn found the face; ingest does the same with ``ingest_try_turns``.
Boxes are always on the photo as given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import facelens
from facelens.config import Settings
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.turns import TURNS_DEGREES, box_back, points_back, turned
from facelens.privacy.policy import CollectionPolicy, LegalBasis
from facelens.types import Box

POLICY = CollectionPolicy(LegalBasis.OTHER, ["US"], "turn test", 1, "sample photos")


@pytest.mark.parametrize("degrees", TURNS_DEGREES)
def test_given_a_turn_then_points_and_boxes_map_back_onto_the_photo_as_given(
    degrees: int,
) -> None:
    height, width = 30, 50
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[5:9, 20:27] = 255  # a bright box: x 20..27, y 5..9 (exclusive ends)
    image[12, 40] = (0, 0, 255)  # one blue pixel at x=40, y=12
    turn = turned(image, degrees)
    ys, xs = np.nonzero(turn[..., 0] == 255)
    found = Box(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    assert box_back(found, degrees, width, height) == Box(20, 5, 27, 9)
    (y,), (x,) = np.nonzero((turn[..., 2] == 255) & (turn[..., 0] == 0))
    assert points_back(np.array([[x, y]], np.float32), degrees, width, height).tolist() == [
        [40.0, 12.0]
    ]


@pytest.fixture(scope="module")
def sideways(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """obama2.jpg turned a quarter clockwise, losslessly, with no EXIF orientation."""
    path = tmp_path_factory.mktemp("sideways") / "obama2-sideways.png"
    Image.open(photos / "obama2.jpg").transpose(Image.Transpose.ROTATE_270).save(path)
    return path


def test_given_a_sideways_search_photo_then_the_face_is_found_and_the_turn_reported(
    photos: Path, sideways: Path, pipeline: FacePipeline, tmp_path: Path
) -> None:
    assert not pipeline.analyse(pipeline.load(sideways), probe=True).accepted_faces
    upright = pipeline.analyse_probe(pipeline.load(photos / "obama2.jpg")).accepted_faces[0].box
    height = pipeline.load(photos / "obama2.jpg").shape[0]
    with facelens.open(tmp_path / "data", Settings()) as engine:
        engine.create_collection("people", POLICY)
        engine.ingest([photos / "obama.jpg", photos / "biden.jpg"], "people", workers=1)
        result = engine.search(sideways, purpose="test", case_ref="turn-1")
        plain = engine.search(photos / "obama2.jpg", purpose="test", case_ref="turn-2")
        verified = engine.verify(sideways, photos / "obama.jpg")

    # Turned back a quarter anticlockwise, i.e. three quarters clockwise.
    assert result.probe_turned_degrees == 270 and plain.probe_turned_degrees == 0
    (face,) = result.faces
    # The box is on the sideways photo: the upright box, turned a quarter clockwise with it.
    assert face.probe_box == Box(height - upright.y2, upright.x1, height - upright.y1, upright.x2)
    best, upright_best = face.matches[0], plain.faces[0].matches[0]
    assert best.is_match and best.face_id == upright_best.face_id
    assert best.similarity == pytest.approx(upright_best.similarity, abs=1e-4)
    assert verified.same_person and verified.turned_degrees_a == 270
    assert verified.turned_degrees_b == 0


def test_given_ingest_try_turns_then_a_sideways_photo_is_indexed_and_not_without(
    sideways: Path, tmp_path: Path
) -> None:
    for try_turns, indexed in [(False, 0), (True, 1)]:
        settings = Settings(ingest_try_turns=try_turns)
        with facelens.open(tmp_path / f"data-{try_turns}", settings) as engine:
            engine.create_collection("scans", POLICY)
            report = engine.ingest([sideways], "scans", workers=1)
            assert report.images_ingested == 1
            assert report.faces_indexed == indexed, try_turns
            if indexed:
                (image,) = engine.store.images("scans")
                face = engine.store.face_records(image.face_ids)[image.face_ids[0]]
                width, height = Image.open(sideways).size
                assert (image.width, image.height) == (width, height)
                assert 0 <= face.box.x1 < face.box.x2 <= width
                assert 0 <= face.box.y1 < face.box.y2 <= height
                assert face.box.height > face.box.width * 0.8  # still a face's box
