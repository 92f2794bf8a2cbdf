"""Ingest embeds the chips of many images together: workers find and align faces, the main
process embeds their chips in batches of ``embed_batch_size``, and the answers are those of
analysing each image on its own."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from facelens.config import Settings
from facelens.errors import ModelNotAvailableError
from facelens.ingest_report import IngestFailure
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.batch import AnalysedFile, ReadFile, analyse_files
from facelens.pipeline.decode import RgbImage
from facelens.pipeline.embed.base import Embedder
from facelens.pipeline.embed.registry import create_embedder
from facelens.types import FloatArray, ImageAnalysis


class CountingEmbedder(Embedder):
    """The real embedder, counting the rows (a chip and its mirror image are two) of each
    call its network gets."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model = inner.model
        self.flip_average = inner.flip_average
        self.calls: list[int] = []

    def _network(self, chips: list[RgbImage]) -> FloatArray:
        self.calls.append(len(chips))
        return self.inner._network(chips)


class FailingEmbedder(CountingEmbedder):
    """Fails its second call: a model that breaks mid-ingest (a GPU lost, memory), which a
    real model cannot be made to do on demand."""

    def _network(self, chips: list[RgbImage]) -> FloatArray:
        if len(self.calls) == 1:
            self.calls.append(len(chips))
            raise ModelNotAvailableError("the model went away")
        return super()._network(chips)


def read(paths: list[Path]) -> Iterator[ReadFile | IngestFailure | None]:
    for path in paths:
        data = path.read_bytes()
        yield ReadFile(str(path), hashlib.sha256(data).hexdigest(), data)


@pytest.fixture(scope="module")
def single_face_photos(photos: Path, astronaut: Path, grace_hopper: Path) -> list[Path]:
    return [*sorted(photos.glob("*.jpg")), astronaut, grace_hopper]


def analysed(results: list[AnalysedFile | IngestFailure | None]) -> dict[str, ImageAnalysis]:
    found = {}
    for result in results:
        assert isinstance(result, AnalysedFile)
        assert isinstance(result.outcome, ImageAnalysis), result.outcome
        found[result.location] = result.outcome
    return found


@pytest.mark.parametrize("workers", [1, 2])
def test_given_many_photos_when_ingested_then_their_chips_are_embedded_in_batches_with_the_same_answers(  # noqa: E501
    single_face_photos: list[Path], pipeline: FacePipeline, workers: int
) -> None:
    settings = Settings(embed_batch_size=4)
    counting = CountingEmbedder(create_embedder(settings))
    batched = FacePipeline(settings, embedder=counting)

    results = analysed(list(analyse_files(read(single_face_photos), settings, workers, batched)))

    assert sorted(results) == sorted(str(p) for p in single_face_photos)
    faces = sum(len(a.accepted_faces) for a in results.values())
    assert sum(counting.calls) == 2 * faces  # each chip and its mirror image
    # Every call but the last holds at least a batch; a photo at a time would be 2 rows.
    assert all(rows >= 2 * 4 for rows in counting.calls[:-1]), counting.calls
    assert len(counting.calls) < faces
    for path in single_face_photos:
        alone = pipeline.analyse_file(path)
        together = results[str(path)]
        assert [f.box for f in together.faces] == [f.box for f in alone.faces]
        for a, b in zip(together.accepted_faces, alone.accepted_faces, strict=True):
            assert a.embedding is not None and b.embedding is not None
            assert np.abs(a.embedding.vector - b.embedding.vector).max() < 1e-5


def test_given_a_batch_whose_embedding_fails_then_its_files_fail_and_the_rest_go_on(
    single_face_photos: list[Path],
) -> None:
    settings = Settings(embed_batch_size=2)
    failing = FailingEmbedder(create_embedder(settings))
    pipeline = FacePipeline(settings, embedder=failing)

    results = list(analyse_files(read(single_face_photos), settings, 1, pipeline))

    assert len(results) == len(single_face_photos)
    failed = [
        r for r in results if isinstance(r, AnalysedFile) and isinstance(r.outcome, IngestFailure)
    ]
    assert len(failed) == failing.calls[1] // 2  # every file of the failed batch, no other
    assert {f.outcome.error for f in failed if isinstance(f.outcome, IngestFailure)} == {
        "model_not_available"
    }
    embedded = [
        r for r in results if isinstance(r, AnalysedFile) and isinstance(r.outcome, ImageAnalysis)
    ]
    assert len(embedded) == len(single_face_photos) - len(failed)
    assert all(a.outcome.accepted_faces for a in embedded if isinstance(a.outcome, ImageAnalysis))


def test_given_a_photo_without_faces_then_it_does_not_wait_for_a_batch(
    photos: Path, tmp_path: Path
) -> None:
    """A file with nothing to embed comes back as soon as it is analysed, ahead of the
    batch still filling."""
    from PIL import Image

    empty = tmp_path / "wall.png"
    Image.fromarray(np.full((200, 200, 3), 128, dtype=np.uint8)).save(empty)
    settings = Settings(embed_batch_size=64)
    pipeline = FacePipeline(settings)
    order = [photos / "obama.jpg", empty, photos / "biden.jpg"]

    results = list(analyse_files(read(order), settings, 1, pipeline))

    locations = [r.location for r in results if isinstance(r, AnalysedFile)]
    assert locations == [str(empty), str(photos / "obama.jpg"), str(photos / "biden.jpg")]
