"""An operator's own ONNX model (``embedder="onnx_file"``): the converted dlib model described
as dlib gives dlib's vectors under its own model id; a generated 112x112 model runs the
ArcFace template end to end; bad descriptions are refused with typed errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from facelens.config import Settings
from facelens.engine import Engine
from facelens.errors import (
    ModelDescriptionError,
    ModelDescriptionMismatchError,
    ModelMismatchError,
    ModelNotAvailableError,
)
from facelens.pipeline.align import ARCFACE_112_TEMPLATE, ArcFaceAligner, fit_points
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.embed.dlib_onnx.cache import converted_model
from facelens.pipeline.embed.registry import create_embedder
from tests.conftest import Declare
from tests.model_support import (
    DLIB_DESCRIPTION,
    PROJECTION_DESCRIPTION,
    PROJECTION_DIM,
    dlib_as_onnx_file,
    projection_model,
    projection_settings,
    write_description,
)

SAMPLES = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"]


def test_given_the_converted_dlib_model_described_as_dlib_then_the_onnx_embedders_vectors(
    tmp_path: Path, photos: Path, pipeline: FacePipeline
) -> None:
    settings = dlib_as_onnx_file(tmp_path)
    as_file = FacePipeline(settings)
    for flip in (False, True):
        ours = create_embedder(settings.model_copy(update={"embed_flip_average": flip}))
        theirs = create_embedder(Settings(embedder="onnx", embed_flip_average=flip))
        for name in SAMPLES:
            image = pipeline.load(photos / name)
            detection = pipeline.detector.detect(image)[0]  # largest first: the subject
            chip = as_file.aligner.align(image, detection.box).chip
            (a,), (b,) = ours.embed([chip]), theirs.embed([chip])
            assert np.allclose(a.vector, b.vector, atol=1e-5), (name, flip)
    onnx_sha = hashlib.sha256(converted_model().read_bytes()).hexdigest()
    assert as_file.model != pipeline.model  # the same vectors, another model id
    assert as_file.model.name == DLIB_DESCRIPTION["name"] and as_file.model.dim == 128
    assert onnx_sha in as_file.model.version


def test_given_the_generated_112_model_then_faces_are_aligned_to_112_and_ingested(
    tmp_path: Path, photos: Path, declare: Declare
) -> None:
    # MTCNN from 40 px: from 20 it also finds a blurred patch of obama.jpg's background, which
    # the sharpness gate (chosen on dlib's 150 px chips) rejects on those but not on 112 px ones.
    settings = projection_settings(
        tmp_path / "model", data_dir=tmp_path / "data", mtcnn_min_face_size_px=40
    )
    pipeline = FacePipeline(settings)
    assert isinstance(pipeline.aligner, ArcFaceAligner)
    image = pipeline.load(photos / "obama.jpg")
    detection = pipeline.detector.detect(image)[0]  # largest first: the subject
    aligned = pipeline.aligner.align(image, detection.box)
    assert aligned.chip.shape == (112, 112, 3) and aligned.chip.dtype == np.uint8
    with Engine(settings, pipeline=pipeline) as engine:
        declare(engine, "press")
        report = engine.ingest([photos / n for n in SAMPLES], "press", workers=1)
        assert report.faces_indexed == len(SAMPLES), report
        assert engine.index.dim == PROJECTION_DIM and engine.index.count() == len(SAMPLES)
        assert engine.stats().model == pipeline.model
    # Another model's data folder: still refused, whichever embedder opens it.
    with pytest.raises(ModelMismatchError):
        Engine(Settings(data_dir=settings.data_dir))


def test_given_an_image_with_its_landmarks_then_the_arcface_chip_puts_them_on_the_template(
    photos: Path, pipeline: FacePipeline
) -> None:
    image = pipeline.load(photos / "obama.jpg")
    detection = pipeline.detector.detect(image)[0]  # largest first: the subject
    points = pipeline.aligner.align(image, detection.box).landmarks
    source, target = fit_points(points, "dlib-5")
    assert source.shape == target.shape == (3, 2)
    assert np.array_equal(target, ARCFACE_112_TEMPLATE[:3].astype(np.float32))
    # Five ArcFace-style points already on the template fit it exactly: the chip is the image.
    template_image = np.zeros((112, 112, 3), np.uint8)
    template_image[40:60, 30:80] = 200
    chip = ArcFaceAligner().align(
        template_image, detection.box, ARCFACE_112_TEMPLATE.astype(np.float32), "arcface-5"
    )
    assert np.array_equal(chip.chip, template_image)


# --- bad descriptions: typed errors that say what to fix -----------------------------------


def _settings(model: Path, description: Any) -> Settings:
    path = model.with_suffix(".json")
    if isinstance(description, str):
        path.write_text(description)  # as it is, JSON or not
    elif description is None:
        path.unlink(missing_ok=True)
    else:
        write_description(path, description)
    return Settings(embedder="onnx_file", embed_model_path=model)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return projection_model(tmp_path)


@pytest.mark.parametrize(
    ("description", "error", "says"),
    [
        (None, ModelDescriptionError, "no model description"),
        ("{not json", ModelDescriptionError, "is not JSON"),
        ([1, 2], ModelDescriptionError, "cannot be used"),
        ({**PROJECTION_DESCRIPTION, "colour": "rgb"}, ModelDescriptionError, "colour"),
        ({**PROJECTION_DESCRIPTION, "layout": "hwc"}, ModelDescriptionError, "layout"),
        ({**PROJECTION_DESCRIPTION, "std": [128, 0, 128]}, ModelDescriptionError, "std"),
        ({**PROJECTION_DESCRIPTION, "input_size_px": 150}, ModelDescriptionError, "chip side"),
        (
            {**PROJECTION_DESCRIPTION, "input_dtype": "uint8"},
            ModelDescriptionError,
            "mean must be 0",
        ),
        (
            {k: v for k, v in PROJECTION_DESCRIPTION.items() if k != "output_dim"},
            ModelDescriptionError,
            "output_dim",
        ),
        # Valid descriptions the ONNX file's own declarations contradict.
        ({**PROJECTION_DESCRIPTION, "output_dim": 512}, ModelDescriptionMismatchError, "512"),
        ({**PROJECTION_DESCRIPTION, "layout": "nhwc"}, ModelDescriptionMismatchError, "shape"),
        (
            {**PROJECTION_DESCRIPTION, "input_dtype": "uint8", "mean": [0] * 3, "std": [1] * 3},
            ModelDescriptionMismatchError,
            "tensor(float)",
        ),
    ],
)
def test_given_a_bad_description_then_a_typed_error_says_what_is_wrong(
    model: Path, description: Any, error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says.replace("(", r"\(").replace(")", r"\)")) as raised:
        create_embedder(_settings(model, description))
    assert "docs/models.md" in str(raised.value)


def test_given_no_model_file_then_a_typed_error_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailableError, match="embed_model_path"):
        create_embedder(Settings(embedder="onnx_file"))
    with pytest.raises(ModelNotAvailableError, match="not a file"):
        create_embedder(Settings(embedder="onnx_file", embed_model_path=tmp_path / "none.onnx"))
    not_onnx = tmp_path / "model.onnx"
    not_onnx.write_bytes(b"not a model")
    write_description(not_onnx.with_suffix(".json"), PROJECTION_DESCRIPTION)
    with pytest.raises(ModelNotAvailableError, match="cannot load"):
        create_embedder(Settings(embedder="onnx_file", embed_model_path=not_onnx))


def test_given_a_changed_description_then_another_model_id(model: Path) -> None:
    first = create_embedder(_settings(model, PROJECTION_DESCRIPTION)).model
    renamed = create_embedder(_settings(model, {**PROJECTION_DESCRIPTION, "name": "x"})).model
    refed = {**PROJECTION_DESCRIPTION, "mean": [127.0] * 3}
    assert renamed.version == first.version and renamed.name == "x"
    assert create_embedder(_settings(model, refed)).model.version != first.version
    assert json.loads(model.with_suffix(".json").read_text())["mean"] == [127.0] * 3
