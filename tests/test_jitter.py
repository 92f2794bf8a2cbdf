"""Jittered copies of a chip (``embed.jitter``) and ``probe_jitters``: dlib's num_jitters,
made the same for every backend and the same for the same photo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import facelens
from facelens.config import Settings
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.decode import RgbImage
from facelens.pipeline.embed.base import similarity
from facelens.pipeline.embed.jitter import jittered_copies
from facelens.pipeline.embed.registry import create_embedder
from facelens.privacy.policy import CollectionPolicy, LegalBasis


@pytest.fixture(scope="module")
def chip(pipeline: FacePipeline, photos: Path) -> RgbImage:
    image = pipeline.load(photos / "obama.jpg")
    detection = pipeline.detector.detect(image)[0]  # largest first: the subject
    return pipeline.aligner.align(image, detection.box).chip


def test_given_a_chip_then_its_copies_are_small_moves_of_it_and_always_the_same(
    chip: RgbImage,
) -> None:
    copies = jittered_copies(chip, 20)
    assert len(copies) == 20
    assert all(c.shape == chip.shape and c.dtype == np.uint8 for c in copies)
    assert all(np.array_equal(a, b) for a, b in zip(copies, jittered_copies(chip, 20), strict=True))
    assert len({c.tobytes() for c in copies}) == 20  # each one drawn anew
    # Mirrored about half the time: a copy is nearer the chip or its mirror image.
    mirror = chip[:, ::-1].astype(np.int16)
    mirrored = sum(
        np.abs(c.astype(np.int16) - mirror).mean() < np.abs(c.astype(np.int16) - chip).mean()
        for c in copies
    )
    assert 4 <= mirrored <= 16
    # A shift of at most 2%, a zoom of at most 3% and a turn of at most 3 degrees.
    moved = [
        min(np.abs(c.astype(np.int16) - chip).mean(), np.abs(c.astype(np.int16) - mirror).mean())
        for c in copies
    ]
    assert max(moved) < 25


def test_given_jitters_then_dlib_and_its_onnx_conversion_still_agree(chip: RgbImage) -> None:
    """Both backends take the same copies, so their answers stay within the conversion's
    tolerance with jitters too."""
    dlib_embedder = create_embedder(Settings(embedder="dlib"))
    onnx_embedder = create_embedder(Settings(embedder="onnx"))
    (a,) = dlib_embedder.embed([chip], jitters=4)
    (b,) = onnx_embedder.embed([chip], jitters=4)
    assert np.abs(a.vector - b.vector).max() < 1e-4


def test_given_probe_jitters_then_searches_use_them_and_ingest_does_not(
    photos: Path, tmp_path: Path
) -> None:
    settings = Settings(probe_jitters=8)
    policy = CollectionPolicy(LegalBasis.OTHER, ["US"], "jitter test", 1, "sample photos")
    plain = FacePipeline(Settings())
    with facelens.open(tmp_path / "data", settings) as engine:
        engine.create_collection("people", policy)
        engine.ingest([photos / "obama.jpg", photos / "biden.jpg"], "people", workers=1)
        stored = engine.pipeline.analyse(engine.pipeline.load(photos / "obama.jpg"))
        probe = engine.pipeline.analyse_probe(engine.pipeline.load(photos / "obama2.jpg"))
        results = engine.search(photos / "obama2.jpg", purpose="test", case_ref="jitter-1")

    unjittered = plain.analyse(plain.load(photos / "obama.jpg")).accepted_faces[0].embedding
    jittered_probe = probe.accepted_faces[0].embedding
    plain_probe = plain.analyse_probe(plain.load(photos / "obama2.jpg")).accepted_faces[0]
    stored_face = stored.accepted_faces[0].embedding
    assert stored_face is not None and unjittered is not None
    assert np.allclose(stored_face.vector, unjittered.vector, atol=1e-6)  # ingest: no jitter
    assert jittered_probe is not None and plain_probe.embedding is not None
    assert not np.allclose(jittered_probe.vector, plain_probe.embedding.vector, atol=1e-4)
    assert similarity(jittered_probe, plain_probe.embedding) > 0.95
    best = results.faces[0].matches[0]
    assert best.similarity == pytest.approx(similarity(jittered_probe, unjittered), abs=1e-4)
