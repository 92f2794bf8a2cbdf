"""What every embedder backend must do, on chips of real photos with its real model. A new
backend registered with ``register_embedder`` is checked by these tests as it is; one whose
optional dependency is not installed is skipped, saying which."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facelens.config import Settings
from facelens.errors import ModelNotAvailableError
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.decode import RgbImage
from facelens.pipeline.embed.base import Embedder, similarity
from facelens.pipeline.embed.registry import available_embedders, create_embedder

PEOPLE = {
    "obama": "obama.jpg",
    "obama2": "obama2.jpg",
    "obama3": "obama3.jpg",
    "biden": "biden.jpg",
}


@pytest.fixture(scope="module")
def chips(pipeline: FacePipeline, photos: Path) -> dict[str, RgbImage]:
    """The face of each sample photo, aligned as the pipeline aligns it."""
    found = {}
    for key, name in PEOPLE.items():
        image = pipeline.load(photos / name)
        (detection,) = pipeline.detector.detect(image)
        found[key] = pipeline.aligner.align(image, detection.box).chip
    return found


@pytest.fixture(scope="module", params=available_embedders())
def embedder(request: pytest.FixtureRequest, chips: dict[str, RgbImage]) -> Embedder:
    try:
        made = create_embedder(Settings(embedder=request.param))
        made.embed([chips["obama"]])  # loads the model
    except ModelNotAvailableError as error:
        pytest.skip(f"embedder {request.param!r} cannot load here: {error}")
    except ModuleNotFoundError as error:
        if (error.name or "facelens").startswith("facelens"):
            raise  # a mistake of ours, not a dependency left out
        pytest.skip(f"embedder {request.param!r} needs {error.name}, not installed here")
    return made


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
    embedder: Embedder, chips: dict[str, RgbImage]
) -> None:
    e = dict(zip(chips, embedder.embed(list(chips.values())), strict=True))
    for a, b in [("obama", "obama2"), ("obama", "obama3"), ("obama2", "obama3")]:
        same = similarity(e[a], e[b])
        assert same > similarity(e[a], e["biden"]), (a, b)
        assert same > similarity(e[b], e["biden"]), (a, b)
