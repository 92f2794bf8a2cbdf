"""The approximate tier of ``faiss-tiered`` at small sizes: it agrees with exact search on a
seeded set of face-like clusters, sees additions and deletions at once (also while a build is
running), and a swapped-in index answers as the one it replaced."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from facelens.config import Settings
from facelens.engine import INDEX_PARAMS_KEY, Engine
from facelens.index import IndexOptions, create_index
from facelens.index.faiss_tiered import AnnParams, FaissTieredIndex
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.embed.base import l2_normalise
from facelens.types import (
    AnalysedFace,
    Box,
    Detection,
    Embedding,
    FaceQuality,
    FloatArray,
    IdArray,
    ImageAnalysis,
    ModelId,
    Provenance,
)

MODEL = ModelId("test-model", "1", 128)
PEOPLE, PER_PERSON = 400, 10  # 4,000 faces: the approximate tier is built past 3,000


def face_like(seed: int) -> tuple[IdArray, FloatArray, FloatArray, IdArray]:
    """People as clusters on the sphere: gallery faces (ids 1..), and one fresh query a person
    (the id of the person's first face, for checking)."""
    rng = np.random.default_rng(seed)
    centres = l2_normalise(rng.standard_normal((PEOPLE, MODEL.dim)).astype(np.float32))

    def samples(per_person: int) -> FloatArray:
        noise = 0.6 * rng.standard_normal((PEOPLE, per_person, MODEL.dim)) / np.sqrt(MODEL.dim)
        return l2_normalise((centres[:, None, :] + noise).reshape(-1, MODEL.dim).astype(np.float32))

    gallery = samples(PER_PERSON)
    queries = samples(1)
    ids = np.arange(1, len(gallery) + 1, dtype=np.int64)
    return ids, gallery, queries, ids[::PER_PERSON]


def options(**overrides: object) -> IndexOptions:
    settings: dict[str, object] = {
        "ann_min_faces": 3000,
        "ann_nlist": 64,
        "ann_nprobe": 16,  # a quarter of the lists: approximate for real
        "ann_pq_subquantizers": 32,
        "build_in_background": False,
    } | overrides
    return IndexOptions(**settings)  # type: ignore[arg-type]


def exact_top(gallery_ids: IdArray, gallery: FloatArray, queries: FloatArray, k: int) -> IdArray:
    return gallery_ids[np.argsort(-(queries @ gallery.T), axis=1, kind="stable")[:, :k]]


def tiered(folder: Path, opts: IndexOptions) -> FaissTieredIndex:
    index = create_index("faiss-tiered", MODEL, folder, opts)
    assert isinstance(index, FaissTieredIndex)
    return index


def test_given_a_seeded_set_when_approximate_then_top1_is_the_exact_top1(tmp_path: Path) -> None:
    ids, gallery, queries, _ = face_like(seed=1)
    index = tiered(tmp_path, options())
    index.add(ids, gallery)
    assert index.approximate and index.params()["kind"] == "ivfpq"
    scores, found = index.search(queries, k=5)
    expected = exact_top(ids, gallery, queries, 5)
    np.testing.assert_array_equal(found[:, 0], expected[:, 0])
    # Re-ranking is exact: the scores are the true cosine similarities.
    true_scores = np.einsum("nd,nd->n", queries, gallery[found[:, 0] - 1])
    np.testing.assert_allclose(scores[:, 0], true_scores, atol=1e-5)


def test_given_the_exact_tier_when_the_approximate_is_swapped_in_then_same_results(
    tmp_path: Path,
) -> None:
    ids, gallery, queries, _ = face_like(seed=2)
    index = tiered(tmp_path, options(ann_min_faces=len(ids) + 1))
    index.add(ids, gallery)
    assert not index.approximate
    before_scores, before = index.search(queries, k=3)
    index.add(np.array([len(ids) + 1]), queries[:1])  # passes ann_min_faces: built, swapped
    assert index.approximate
    after_scores, after = index.search(queries[1:], k=3)
    np.testing.assert_array_equal(after[:, 0], before[1:, 0])
    np.testing.assert_allclose(after_scores[:, 0], before_scores[1:, 0], atol=1e-5)


def test_given_a_background_build_then_searches_go_on_and_changes_made_meanwhile_are_kept(
    tmp_path: Path,
) -> None:
    ids, gallery, queries, first_faces = face_like(seed=3)
    index = tiered(tmp_path, options(build_in_background=True))
    index.add(ids[:-1], gallery[:-1])  # starts the build in a thread
    # While it runs: searches answer, a deletion and an addition are seen at once.
    assert index.search(queries[:1], k=1)[1][0, 0] == exact_top(ids, gallery, queries[:1], 1)[0, 0]
    index.remove(first_faces[:50])
    index.add(ids[-1:], gallery[-1:])
    assert index.wait_for_build(timeout_s=120)
    assert index.approximate
    _, found = index.search(gallery[first_faces[:50] - 1], k=1)
    assert not np.isin(found, first_faces[:50]).any(), "deleted faces came back after the swap"
    assert index.search(gallery[-1:], k=1)[1][0, 0] == ids[-1]
    assert index.count() == len(ids) - 50


def test_given_the_approximate_tier_then_deletes_and_additions_are_seen_at_once(
    tmp_path: Path,
) -> None:
    ids, gallery, queries, _ = face_like(seed=4)
    index = tiered(tmp_path, options(ann_max_dead_share=1.0))
    index.add(ids, gallery)
    assert index.approximate
    top = index.search(queries, k=1)[1][:, 0]
    index.remove(top[:20])
    after = index.search(queries[:20], k=PER_PERSON)[1]
    assert not np.isin(after, top[:20]).any()
    assert index.dead_codes() == 20
    # The erased vectors are gone from disk too, not only from the results.
    assert not index._vectors.read(top[:20]).any()
    # Added back (a deleted id re-enrolled), and a new face: both found, each once.
    index.add(top[:20], gallery[top[:20] - 1])
    new_id = np.array([10_000])
    index.add(new_id, queries[20:21])
    found = index.search(queries[:20], k=PER_PERSON)[1]
    np.testing.assert_array_equal(found[:, 0], top[:20])
    assert all(len(set(row[row >= 0])) == len(row[row >= 0]) for row in found), "repeated ids"
    assert index.search(queries[20:21], k=1)[1][0, 0] == 10_000


def test_given_many_deletes_then_compaction_drops_tombstones_and_keeps_results(
    tmp_path: Path,
) -> None:
    ids, gallery, queries, _ = face_like(seed=5)
    index = tiered(tmp_path, options(ann_max_dead_share=0.05))
    index.add(ids, gallery)
    gone = ids[1::PER_PERSON][:150]  # 3.75%: under the share, kept as tombstones
    index.remove(gone)
    assert index.dead_codes() == 150
    _, before = index.search(queries, k=3)
    index.remove(ids[2::PER_PERSON][:100])  # now over 5%: compacted
    assert index.dead_codes() == 0
    _, after = index.search(queries, k=3)
    unaffected = ~np.isin(before, ids[2::PER_PERSON][:100]).any(axis=1)
    np.testing.assert_array_equal(after[unaffected, 0], before[unaffected, 0])


def test_given_a_persisted_approximate_index_when_reopened_then_same_results(
    tmp_path: Path,
) -> None:
    ids, gallery, queries, _ = face_like(seed=6)
    index = tiered(tmp_path, options())
    index.add(ids, gallery)
    index.remove(ids[:5])
    index.persist()
    scores, found = index.search(queries, k=5)
    reopened = tiered(tmp_path, options())
    assert reopened.approximate and reopened.count() == len(ids) - 5
    assert reopened.params() == index.params()
    again_scores, again = reopened.search(queries, k=5)
    np.testing.assert_array_equal(again, found)
    np.testing.assert_allclose(again_scores, scores, atol=1e-6)


def test_given_recorded_parameters_when_rebuilt_then_they_are_reused(tmp_path: Path) -> None:
    ids, gallery, _, _ = face_like(seed=7)
    first = tiered(tmp_path / "a", options(ann_nlist=32, ann_nprobe=5))
    first.add(ids, gallery)
    recorded = first.params()
    rebuilt = tiered(tmp_path / "b", options(recorded_params=recorded))
    rebuilt.add(ids, gallery)
    assert rebuilt.params() == recorded
    assert AnnParams.choose(len(ids), options(recorded_params=recorded)).nlist == 32
    # Four times the size it was built for: chosen anew.
    assert AnnParams.choose(5 * len(ids), options(recorded_params=recorded)).nlist != 32


@pytest.mark.parametrize(
    ("exact_filter_max_faces", "every"),
    [(20_000, 3), (0, 2)],
    ids=["small filter: scanned exactly", "wide filter: probed lists filtered"],
)
def test_given_a_collection_filter_then_only_its_faces_are_returned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exact_filter_max_faces: int, every: int
) -> None:
    monkeypatch.setattr(
        "facelens.index.faiss_tiered.EXACT_FILTER_MAX_FACES", exact_filter_max_faces
    )
    ids, gallery, queries, _ = face_like(seed=8)
    index = tiered(tmp_path, options())
    index.add(ids, gallery)
    allowed = ids[ids % every == 0]
    _, found = index.search(queries, k=4, allowed_ids=allowed)
    assert np.isin(found[found >= 0], allowed).all()
    mask = np.isin(ids, allowed)
    np.testing.assert_array_equal(
        found[:, 0], exact_top(ids[mask], gallery[mask], queries, 1)[:, 0]
    )


@pytest.mark.parametrize("bad", [np.array([-1]), np.array([2**31])])
def test_given_an_id_out_of_range_then_a_clear_error(tmp_path: Path, bad: IdArray) -> None:
    index = tiered(tmp_path, options())
    with pytest.raises(ValueError, match="face ids must lie in"):
        index.add(bad, face_like(seed=9)[1][:1])


def test_given_an_engine_past_ann_min_faces_then_its_index_parameters_survive_a_lost_index(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    """The store is the source of truth: the approximate index is built from it, how it was
    built is recorded in it, and a rebuild after the index files are lost reuses that."""
    settings = Settings(
        data_dir=tmp_path, ann_min_faces=3000, ann_nlist=64, ann_nprobe=16, ann_pq_subquantizers=32
    )
    _, gallery, queries, _ = face_like(seed=11)
    with Engine(settings, pipeline=pipeline) as engine:
        engine.store.ensure_collection("crowds")  # straight into the store: no policy needed
        for start in range(0, len(gallery), 100):  # 100 faces an image, as a crowd scene
            faces = [
                synthetic_face(vector, pipeline.model) for vector in gallery[start : start + 100]
            ]
            engine.store.add_image(
                collection="crowds",
                location=f"crowd-{start}.jpg",
                sha256=f"{start:064d}",
                analysis=ImageAnalysis(width=4000, height=3000, faces=faces),
                provenance=Provenance(),
            )
    with Engine(settings, pipeline=pipeline) as engine:  # repaired from the store: 4,000 faces
        assert engine.index.wait_for_build(timeout_s=120)
        built = engine.stats().index_params
        assert built["kind"] == "ivfpq" and built["nlist"] == 64
        _, before = engine.index.search(queries, k=1)
    with Engine(settings, pipeline=pipeline) as engine:
        recorded = engine.store.get_meta(INDEX_PARAMS_KEY)
    assert recorded is not None and json.loads(recorded) == built

    shutil.rmtree(tmp_path / "index")
    other = settings.model_copy(update={"ann_nlist": 0, "ann_nprobe": 0})  # would choose anew
    with Engine(other, pipeline=pipeline) as engine:
        assert engine.index.wait_for_build(timeout_s=120)
        assert engine.stats().index_params == built
        _, after = engine.index.search(queries, k=1)
    np.testing.assert_array_equal(after, before)


def synthetic_face(vector: FloatArray, model: ModelId) -> AnalysedFace:
    return AnalysedFace(
        detection=Detection(box=Box(0, 0, 80, 80), score=1.0, detector="synthetic"),
        landmarks=np.zeros((5, 2), dtype=np.float32),
        quality=FaceQuality(size_px=80, sharpness=50.0),
        embedding=Embedding(vector=vector, model=model),
    )


def test_given_ids_already_indexed_or_repeated_then_refused_and_nothing_changes(
    tmp_path: Path,
) -> None:
    ids, gallery, _, _ = face_like(seed=12)
    index = tiered(tmp_path, options())
    index.add(ids, gallery)
    for bad_ids in (ids[:2], np.array([99_999, 99_999])):
        with pytest.raises(ValueError, match="new to the index and distinct"):
            index.add(bad_ids, gallery[:2])
    assert index.count() == len(ids)
    assert index.remove(np.array([-1, 99_999])) == 0
    assert index.count() == len(ids)
