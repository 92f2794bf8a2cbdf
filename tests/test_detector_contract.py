"""What every detector backend must do, on real photos with its real model, and how a
detection's own landmarks drive alignment. A new backend registered with ``register_detector``
is checked by these tests as it is."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facelens.config import Settings
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.decode import RgbImage
from facelens.pipeline.detect import Detector, available_detectors, create_detector
from facelens.pipeline.embed.base import similarity
from facelens.types import Detection, FloatArray

#: Small enough that the CNN detector stays quick on the CPU.
MAX_SIDE_PX = 640


@pytest.fixture(scope="module", params=available_detectors())
def detector(request: pytest.FixtureRequest) -> Detector:
    """Each backend at its coarse setting: dlib without upsampling (faces from about 80 px),
    MTCNN from 40 px faces. (From 20 px, MTCNN also finds a blurred 34 px patch of obama.jpg's
    background, at 0.86, which the quality gate rejects: tests/test_mtcnn.py.)"""
    return create_detector(
        Settings(
            detector=request.param,
            detect_max_side_px=MAX_SIDE_PX,
            detect_upsample_times=0,
            mtcnn_min_face_size_px=40,
        )
    )


def rgb(path: Path, longest_side: int | None = None) -> RgbImage:
    image = Image.open(path).convert("RGB")
    if longest_side is not None:
        image.thumbnail((longest_side, longest_side), Image.Resampling.LANCZOS)
    return np.asarray(image)


def two_people(photos: Path) -> RgbImage:
    """Barack Obama and Joe Biden side by side on one canvas."""
    a = rgb(photos / "obama.jpg", 560)
    b = rgb(photos / "biden.jpg", 680)
    canvas = np.zeros((700, 800, 3), dtype=np.uint8)
    canvas[: a.shape[0], : a.shape[1]] = a
    canvas[: b.shape[0], 480 : 480 + b.shape[1]] = b[:, : 800 - 480]
    return canvas


def assert_well_formed(found: list[Detection], image: RgbImage, detector: Detector) -> None:
    height, width = image.shape[:2]
    for detection in found:
        box = detection.box
        assert all(isinstance(v, int) for v in box.as_tuple()), box
        assert 0 <= box.x1 < box.x2 <= width and 0 <= box.y1 < box.y2 <= height, box
        assert isinstance(detection.score, float) and math.isfinite(detection.score)
        assert detection.detector == detector.description
        if detection.landmarks is not None:
            points = detection.landmarks
            assert points.shape == (5, 2) and points.dtype == np.float32
            margin = 0.15 * box.width
            assert np.all(points[:, 0] >= box.x1 - margin) and np.all(
                points[:, 0] <= box.x2 + margin
            )
            assert np.all(points[:, 1] >= box.y1 - margin) and np.all(
                points[:, 1] <= box.y2 + margin
            )
    areas = [d.box.area for d in found]
    assert areas == sorted(areas, reverse=True), "largest first"


def test_given_a_detector_then_its_description_names_it(detector: Detector) -> None:
    assert detector.name and detector.description.startswith(detector.name)
    assert detector.max_side_px == MAX_SIDE_PX


def test_given_a_photo_of_one_person_then_exactly_one_face_on_it(
    detector: Detector, photos: Path
) -> None:
    image = rgb(photos / "obama.jpg", MAX_SIDE_PX)
    found = detector.detect(image)
    assert_well_formed(found, image, detector)
    assert len(found) == 1
    # The face: between the hairline and the chin, in the upper half of the portrait.
    box = found[0].box
    assert 0.15 * image.shape[1] < box.centre[0] < 0.85 * image.shape[1]
    assert box.centre[1] < 0.5 * image.shape[0]
    assert box.short_side > 100


def test_given_two_people_then_two_faces_one_each(detector: Detector, photos: Path) -> None:
    image = two_people(photos)
    found = detector.detect(image)
    assert_well_formed(found, image, detector)
    assert len(found) == 2
    assert sorted(d.box.centre[0] < 480 for d in found) == [False, True]


@pytest.mark.parametrize("kind", ["blank", "noise"])
def test_given_an_image_without_faces_then_none_are_found(detector: Detector, kind: str) -> None:
    if kind == "blank":
        image = np.full((300, 400, 3), 128, dtype=np.uint8)
    else:
        image = np.random.default_rng(0).integers(0, 255, size=(300, 400, 3), dtype=np.uint8)
    assert detector.detect(image) == []


def test_given_an_image_larger_than_max_side_px_then_boxes_are_in_its_own_pixels(
    detector: Detector, photos: Path
) -> None:
    small = rgb(photos / "obama.jpg", MAX_SIDE_PX)
    large = np.asarray(
        Image.fromarray(small).resize(
            (small.shape[1] * 2, small.shape[0] * 2), Image.Resampling.LANCZOS
        )
    )
    # The large image is detected on a copy of MAX_SIDE_PX, about ``small`` itself.
    (at_small,) = detector.detect(small)
    (at_large,) = detector.detect(large)
    assert_well_formed([at_large], large, detector)
    tolerance = 0.05 * at_large.box.width
    for got, want in zip(at_large.box.as_tuple(), at_small.box.as_tuple(), strict=True):
        assert abs(got - 2 * want) <= tolerance, (at_large.box, at_small.box)
    if at_large.landmarks is not None and at_small.landmarks is not None:
        assert np.allclose(at_large.landmarks, 2 * at_small.landmarks, atol=tolerance)


# A detection's own landmarks: the aligner cuts the chip on them.


@pytest.fixture(scope="module")
def obama(pipeline: FacePipeline, photos: Path) -> tuple[RgbImage, Detection]:
    """The Obama photo and its face as the pipeline's detector finds it (no landmarks)."""
    image = pipeline.load(photos / "obama.jpg")
    found = pipeline.detector.detect(image)[0]  # largest first: the subject
    assert found.landmarks is None
    return image, found


def with_landmarks(detection: Detection, landmarks: FloatArray) -> Detection:
    return Detection(detection.box, detection.score, detection.detector, landmarks=landmarks)


def test_given_the_predictors_landmarks_in_a_detection_then_chip_and_embedding_are_the_same(
    pipeline: FacePipeline, obama: tuple[RgbImage, Detection]
) -> None:
    image, found = obama
    predicted = pipeline.aligner.align(image, found.box)
    given = with_landmarks(found, predicted.landmarks)
    aligned = pipeline.aligner.align(image, given.box, given.landmarks)
    assert np.array_equal(aligned.chip, predicted.chip)
    assert np.array_equal(aligned.landmarks, predicted.landmarks)

    (by_predictor,) = pipeline.analyse(image).accepted_faces
    (by_detection,) = pipeline.analyse_detections(image, [given]).faces
    assert by_detection.detection.landmarks is not None
    assert np.array_equal(by_detection.landmarks, by_predictor.landmarks)
    assert by_predictor.embedding is not None and by_detection.embedding is not None
    assert np.array_equal(by_detection.embedding.vector, by_predictor.embedding.vector)


def test_given_shifted_landmarks_in_a_detection_then_the_chip_is_cut_on_them(
    pipeline: FacePipeline, obama: tuple[RgbImage, Detection]
) -> None:
    image, found = obama
    predicted = pipeline.aligner.align(image, found.box)
    shift = np.array([12.0, 0.0], dtype=np.float32)
    moved = with_landmarks(found, predicted.landmarks + shift)

    # On the same image, landmarks 12 px to the right cut another chip: a different embedding.
    (face,) = pipeline.analyse_detections(image, [moved]).faces
    assert np.array_equal(face.landmarks, predicted.landmarks + shift)
    off = pipeline.aligner.align(image, moved.box, moved.landmarks)
    assert float(np.abs(off.chip.astype(int) - predicted.chip.astype(int)).mean()) > 5
    (by_predictor,) = pipeline.analyse(image).accepted_faces
    assert face.embedding is not None and by_predictor.embedding is not None
    (of_off_chip,) = pipeline.embedder.embed([off.chip])
    assert np.array_equal(face.embedding.vector, of_off_chip.vector)
    assert similarity(face.embedding, by_predictor.embedding) < 0.999

    # The image moved 12 px to the right with them: the very chip of the predictor's points.
    shifted_image = np.zeros_like(image)
    shifted_image[:, 12:] = image[:, :-12]
    on_shifted = pipeline.aligner.align(shifted_image, moved.box, moved.landmarks)
    assert np.array_equal(on_shifted.chip, predicted.chip)


def test_given_landmarks_that_are_not_five_points_then_the_detection_is_refused(
    obama: tuple[RgbImage, Detection],
) -> None:
    _, found = obama
    with pytest.raises(ValueError, match="5"):
        with_landmarks(found, np.zeros((68, 2), dtype=np.float32))
