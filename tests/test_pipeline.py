"""Detect, align, quality and embed on real photos with the real dlib models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from facelens.config import Settings
from facelens.errors import ModelMismatchError, UnknownBackendError
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.batch import worker_settings
from facelens.pipeline.detect import available_detectors, create_detector
from facelens.pipeline.embed.base import similarity
from facelens.pipeline.quality import LOW_DETECTOR_SCORE, TOO_BLURRY, TOO_MANY_FACES, TOO_SMALL
from facelens.types import Embedding, ModelId

SINGLE_FACE_SAMPLES = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"]


def single_face_photos(photos: Path, astronaut: Path, grace_hopper: Path) -> list[Path]:
    return [photos / n for n in SINGLE_FACE_SAMPLES] + [astronaut, grace_hopper]


def test_given_single_face_photos_when_analysed_then_exactly_one_accepted_face(
    pipeline: FacePipeline, photos: Path, astronaut: Path, grace_hopper: Path
) -> None:
    for path in single_face_photos(photos, astronaut, grace_hopper):
        analysis = pipeline.analyse_file(path)
        assert len(analysis.accepted_faces) == 1, path.name
        face = analysis.accepted_faces[0]
        assert face.accepted, (path.name, face.quality)
        box = face.box
        assert 0 <= box.x1 < box.x2 <= analysis.width and 0 <= box.y1 < box.y2 <= analysis.height
        # The 5 landmarks (eye corners, nose) lie inside or on the edge of the face box.
        assert face.landmarks.shape == (5, 2)
        margin = 0.1 * box.width
        assert np.all(face.landmarks[:, 0] >= box.x1 - margin)
        assert np.all(face.landmarks[:, 0] <= box.x2 + margin)
        assert face.embedding is not None
        assert face.embedding.model == pipeline.model
        assert np.linalg.norm(face.embedding.vector) == pytest.approx(1.0, abs=1e-5)


def test_given_a_badge_that_fools_hog_then_it_is_recorded_as_rejected_not_indexed(
    pipeline: FacePipeline, astronaut: Path
) -> None:
    # At upsample 1, dlib's HOG also fires (score ~0.1) on the mission patch on Eileen
    # Collins's sleeve; it is kept with its reason, and never embedded. (The default
    # detector, MTCNN, finds only her face.)
    hog = FacePipeline(
        Settings(detector="hog"), aligner=pipeline.aligner, embedder=pipeline.embedder
    )
    faces = hog.analyse_file(astronaut).faces
    assert len(faces) == 2
    face, patch = faces[0], faces[1]
    assert face.accepted and face.box.y1 < 200
    assert patch.quality.rejection_reason == LOW_DETECTOR_SCORE
    assert patch.embedding is None
    assert patch.box.y1 > 300


def test_given_the_astronaut_then_the_default_detector_finds_her_face_alone(
    pipeline: FacePipeline, astronaut: Path
) -> None:
    [face] = pipeline.analyse_file(astronaut).faces
    assert face.accepted and face.box.y1 < 200


def test_given_an_image_without_faces_then_no_faces(pipeline: FacePipeline) -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, size=(300, 400, 3), dtype=np.uint8)
    assert pipeline.analyse(noise).faces == []


def test_given_a_face_under_the_minimum_size_then_rejected_as_too_small(
    photos: Path, pipeline: FacePipeline
) -> None:
    strict = FacePipeline(
        Settings(min_face_size_px=400),
        detector=pipeline.detector,
        aligner=pipeline.aligner,
        embedder=pipeline.embedder,
    )
    analysis = strict.analyse_file(photos / "obama.jpg")
    # His face and, with MTCNN, a blurred patch of the background: both under 400 px.
    assert analysis.faces and not analysis.accepted_faces
    assert {face.quality.rejection_reason for face in analysis.faces} == {TOO_SMALL}
    assert all(face.embedding is None for face in analysis.faces)
    assert analysis.faces[0].quality.size_px == analysis.faces[0].box.short_side


def test_given_a_blurred_face_then_sharpness_drops_and_it_is_rejected_as_too_blurry(
    photos: Path, pipeline: FacePipeline
) -> None:
    sharp = np.asarray(Image.open(photos / "obama.jpg").convert("RGB"))
    blurred = np.asarray(Image.fromarray(sharp).filter(ImageFilter.GaussianBlur(6)))
    sharp_face = pipeline.analyse(sharp).faces[0]
    blurred_faces = pipeline.analyse(blurred).faces
    assert blurred_faces, "the blurred face is still detected"
    assert blurred_faces[0].quality.sharpness < sharp_face.quality.sharpness / 100
    assert blurred_faces[0].quality.rejection_reason == TOO_BLURRY


def test_given_more_faces_than_allowed_then_the_smaller_ones_are_rejected(
    photos: Path, pipeline: FacePipeline
) -> None:
    a = np.asarray(Image.open(photos / "obama.jpg").convert("RGB").resize((455, 568)))
    b = np.asarray(Image.open(photos / "biden.jpg").convert("RGB").resize((300, 682)))
    canvas = np.zeros((700, 800, 3), dtype=np.uint8)
    canvas[: a.shape[0], : a.shape[1]] = a
    canvas[: b.shape[0], 480 : 480 + b.shape[1]] = b
    limited = FacePipeline(
        Settings(max_faces_per_image=1),
        detector=pipeline.detector,
        aligner=pipeline.aligner,
        embedder=pipeline.embedder,
    )
    faces = limited.analyse(canvas).faces
    assert len(faces) == 2
    assert faces[0].box.area >= faces[1].box.area
    assert faces[0].accepted
    assert faces[1].quality.rejection_reason == TOO_MANY_FACES


def test_given_the_cnn_detector_then_it_finds_the_same_face_as_hog(
    photos: Path, pipeline: FacePipeline
) -> None:
    cnn = create_detector(Settings(detector="cnn", detect_max_side_px=500))
    assert cnn.name == "dlib-cnn"
    image = pipeline.load(photos / "obama.jpg")
    hog_box = pipeline.detector.detect(image)[0].box
    cnn_found = cnn.detect(image)
    assert len(cnn_found) == 1
    box = cnn_found[0].box
    overlap_x = max(0, min(box.x2, hog_box.x2) - max(box.x1, hog_box.x1))
    overlap_y = max(0, min(box.y2, hog_box.y2) - max(box.y1, hog_box.y1))
    inter = overlap_x * overlap_y
    iou = inter / (box.area + hog_box.area - inter)
    assert iou > 0.5


def test_given_a_large_image_when_downscaled_for_detection_then_boxes_are_in_full_pixels(
    photos: Path, pipeline: FacePipeline
) -> None:
    image = pipeline.load(photos / "obama.jpg")
    full = pipeline.detector.detect(image)[0].box
    small = create_detector(Settings(detect_max_side_px=600)).detect(image)[0].box
    assert abs(small.x1 - full.x1) < 25 and abs(small.x2 - full.x2) < 25


def test_given_an_unknown_detector_then_the_error_lists_the_available_ones() -> None:
    assert available_detectors() == ["cnn", "hog", "mtcnn"]
    with pytest.raises(UnknownBackendError, match="available: cnn, hog, mtcnn"):
        create_detector(Settings.model_construct(detector="yolo"))  # type: ignore[arg-type]


def test_given_embeddings_of_different_models_then_comparison_is_refused() -> None:
    vector = np.full(128, 1 / np.sqrt(128), dtype=np.float32)
    a = Embedding(vector, ModelId("dlib_face_recognition_resnet_model_v1", "1", 128))
    b = Embedding(vector, ModelId("another_model", "2", 128))
    assert similarity(a, a) == pytest.approx(1.0)
    with pytest.raises(ModelMismatchError, match="same model"):
        similarity(a, b)


def test_given_ingest_workers_then_they_share_the_cores_out_among_their_onnx_threads() -> None:
    cores = os.cpu_count() or 1
    assert worker_settings(Settings(), 2).onnx_intra_op_threads == max(1, cores // 2)
    assert worker_settings(Settings(), 4 * cores).onnx_intra_op_threads == 1
    # A number the operator chose, and a single in-process analysis, are left as they are.
    assert worker_settings(Settings(onnx_intra_op_threads=3), 2).onnx_intra_op_threads == 3
    assert worker_settings(Settings(), 1).onnx_intra_op_threads == 0


def test_given_the_models_cached_then_analysing_a_photo_never_imports_the_onnx_package(
    pipeline: FacePipeline, photos: Path
) -> None:
    """The onnx package only builds graphs, and costs about a second of every start-up
    (``facelens search`` has 3 s in all): a process reading the cached models must not load it."""
    photo = photos / "obama.jpg"
    assert pipeline.analyse(pipeline.load(photo)).faces  # the session's cache is filled
    script = (
        "import sys; from facelens.config import Settings;"
        "from facelens.pipeline.analyse import FacePipeline; from pathlib import Path;"
        f"p = FacePipeline(Settings()); faces = p.analyse(p.load(Path({str(photo)!r}))).faces;"
        "print(bool(faces), 'onnx' in sys.modules)"
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert ran.stdout.split() == ["True", "False"]
