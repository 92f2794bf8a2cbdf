"""What every embedder backend must do, on chips of real photos with its real model, aligned
in the template the embedder asks for. A new backend registered with ``register_embedder``
needs a case in ``CASES`` (a test fails until it has one); one whose optional dependency is
not installed is skipped, saying which."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from facelens.config import Settings
from facelens.errors import ModelNotAvailableError
from facelens.pipeline.align import CHIP_SIZES_PX, make_aligner
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.decode import RgbImage
from facelens.pipeline.embed.base import Embedder, similarity
from facelens.pipeline.embed.registry import available_embedders, create_embedder
from facelens.types import Box, FloatArray
from tests.model_support import dlib_as_onnx_file, projection_settings

PEOPLE = {
    "obama": "obama.jpg",
    "obama2": "obama2.jpg",
    "obama3": "obama3.jpg",
    "biden": "biden.jpg",
}


#: Each registered backend's configurations: its name and a way to make its settings in a
#: folder. ``onnx_file`` runs twice: the converted dlib model (150, uint8 NHWC) and a
#: generated model for the ArcFace 112x112 template (float32 NCHW, normalised).
CASES: dict[str, tuple[str, Callable[[Path], Settings]]] = {
    "dlib": ("dlib", lambda _: Settings(embedder="dlib")),
    "onnx": ("onnx", lambda _: Settings(embedder="onnx")),
    "onnx_file-dlib": ("onnx_file", dlib_as_onnx_file),
    "onnx_file-112": ("onnx_file", projection_settings),
}
#: Cases whose model was never trained (a random projection): it knows no one apart.
UNTRAINED = {"onnx_file-112"}


def test_every_registered_backend_has_a_contract_case() -> None:
    assert {backend for backend, _ in CASES.values()} == set(available_embedders())


@pytest.fixture(scope="module")
def landmarks(pipeline: FacePipeline, photos: Path) -> dict[str, tuple[RgbImage, Box, FloatArray]]:
    """Each sample photo with its face's box and five landmarks."""
    found = {}
    for key, name in PEOPLE.items():
        image = pipeline.load(photos / name)
        detection = pipeline.detector.detect(image)[0]  # largest first: the subject
        points = pipeline.aligner.align(image, detection.box).landmarks
        found[key] = (image, detection.box, points)
    return found


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def embedder(case: str, tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    backend, make_settings = CASES[case]
    try:
        made = create_embedder(make_settings(tmp_path_factory.mktemp(case)))
    except ModelNotAvailableError as error:
        pytest.skip(f"embedder {backend!r} cannot load here: {error}")
    except ModuleNotFoundError as error:
        if (error.name or "facelens").startswith("facelens"):
            raise  # a mistake of ours, not a dependency left out
        pytest.skip(f"embedder {backend!r} needs {error.name}, not installed here")
    return made


@pytest.fixture(scope="module")
def chips(
    embedder: Embedder, landmarks: dict[str, tuple[RgbImage, Box, FloatArray]]
) -> dict[str, RgbImage]:
    """The face of each sample photo, aligned in the embedder's template."""
    aligner = make_aligner(embedder.alignment)
    return {key: aligner.align(*found).chip for key, found in landmarks.items()}


def test_given_an_embedder_then_its_chips_are_its_templates_size(
    embedder: Embedder, chips: dict[str, RgbImage]
) -> None:
    side = CHIP_SIZES_PX[embedder.alignment]
    assert all(chip.shape == (side, side, 3) for chip in chips.values())


def test_given_an_embedder_then_its_model_id_names_it(embedder: Embedder) -> None:
    model = embedder.model
    assert isinstance(model.name, str) and model.name
    assert isinstance(model.version, str) and model.version
    assert isinstance(model.dim, int) and model.dim > 0
    assert str(model) == f"{model.name}@{model.version}/{model.dim}"


def test_given_chips_then_one_unit_float32_embedding_each_of_its_model(
    embedder: Embedder, chips: dict[str, RgbImage]
) -> None:
    found = embedder.embed(list(chips.values()))
    assert len(found) == len(chips)
    for embedding in found:
        assert embedding.model == embedder.model
        assert embedding.vector.dtype == np.float32
        assert embedding.vector.shape == (embedder.model.dim,)
        assert np.all(np.isfinite(embedding.vector))
        assert float(np.linalg.norm(embedding.vector)) == pytest.approx(1.0, abs=1e-5)


def test_given_no_chips_then_no_embeddings(embedder: Embedder) -> None:
    assert embedder.embed([]) == []


def test_given_the_same_chips_twice_then_the_same_embeddings(
    embedder: Embedder, chips: dict[str, RgbImage]
) -> None:
    first = embedder.embed(list(chips.values()))
    again = embedder.embed(list(chips.values()))
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a.vector, b.vector)


def test_given_a_batch_then_each_embedding_is_its_chips_in_order(
    embedder: Embedder, chips: dict[str, RgbImage]
) -> None:
    batch = list(chips.values())
    together = embedder.embed(batch)
    reversed_order = embedder.embed(batch[::-1])[::-1]
    for chip, a, b in zip(batch, together, reversed_order, strict=True):
        (alone,) = embedder.embed([chip])
        assert np.allclose(a.vector, alone.vector, atol=1e-5)
        assert np.allclose(b.vector, alone.vector, atol=1e-5)


def test_given_two_photos_of_one_person_then_more_alike_than_of_two_people(
    case: str, embedder: Embedder, chips: dict[str, RgbImage]
) -> None:
    if case in UNTRAINED:
        pytest.skip(f"{case} is a random projection, not a trained face model")
    e = dict(zip(chips, embedder.embed(list(chips.values())), strict=True))
    for a, b in [("obama", "obama2"), ("obama", "obama3"), ("obama2", "obama3")]:
        same = similarity(e[a], e[b])
        assert same > similarity(e[a], e["biden"]), (a, b)
        assert same > similarity(e[b], e["biden"]), (a, b)


def test_given_jitters_then_the_same_chips_give_the_same_embeddings_near_the_plain_ones(
    case: str, embedder: Embedder, chips: dict[str, RgbImage]
) -> None:
    """Jittered copies are drawn from the chip itself: a search repeated gives the same
    scores. They are small moves of the same face, so the embedding moves little."""
    batch = list(chips.values())
    plain = embedder.embed(batch)
    jittered = embedder.embed(batch, jitters=5)
    again = embedder.embed(batch[::-1], jitters=5)[::-1]
    for a, b, flat in zip(jittered, again, plain, strict=True):
        assert a.model == embedder.model
        assert float(np.linalg.norm(a.vector)) == pytest.approx(1.0, abs=1e-5)
        assert np.allclose(a.vector, b.vector, atol=1e-5)
        assert not np.allclose(a.vector, flat.vector, atol=1e-4)  # the copies were used
        if case not in UNTRAINED:
            assert similarity(a, flat) > 0.95
