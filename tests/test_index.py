"""The vector index contract, run against every registered backend and checked against a
NumPy brute-force scan on seeded data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facelens.errors import InvalidArgumentError, UnknownBackendError
from facelens.index import MISSING_SCORE, available_indexes, create_index
from facelens.pipeline.embed.base import l2_normalise
from facelens.types import FloatArray, ModelId

MODEL = ModelId("test-model", "1", 16)
OTHER_MODEL = ModelId("other-model", "1", 16)

backends = pytest.mark.parametrize("backend", available_indexes())


def unit_vectors(n: int, seed: int) -> FloatArray:
    rng = np.random.default_rng(seed)
    return l2_normalise(rng.standard_normal((n, MODEL.dim)).astype(np.float32))


@backends
def test_given_vectors_when_searched_then_same_ranking_as_brute_force(
    backend: str, tmp_path: Path
) -> None:
    index = create_index(backend, MODEL, tmp_path)
    vectors = unit_vectors(500, seed=1)
    ids = np.arange(1000, 1500, dtype=np.int64)
    index.add(ids, vectors)
    queries = unit_vectors(20, seed=2)
    scores, found = index.search(queries, k=10)
    assert scores.shape == found.shape == (20, 10)
    assert scores.dtype == np.float32 and found.dtype == np.int64
    exact = queries @ vectors.T
    expected = ids[np.argsort(-exact, axis=1)[:, :10]]
    np.testing.assert_array_equal(found, expected)
    np.testing.assert_allclose(scores, np.sort(exact, axis=1)[:, ::-1][:, :10], atol=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 1e-6), "best first"


@backends
def test_given_a_vector_when_searched_with_itself_then_similarity_is_one(
    backend: str, tmp_path: Path
) -> None:
    index = create_index(backend, MODEL, tmp_path)
    vectors = unit_vectors(5, seed=3)
    index.add(np.arange(5, dtype=np.int64), vectors)
    scores, found = index.search(vectors, k=1)
    np.testing.assert_array_equal(found[:, 0], np.arange(5))
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)


@backends
def test_given_fewer_vectors_than_k_then_padded_with_minus_one(
    backend: str, tmp_path: Path
) -> None:
    index = create_index(backend, MODEL, tmp_path)
    empty_scores, empty_ids = index.search(unit_vectors(2, seed=4), k=3)
    assert (empty_ids == -1).all() and (empty_scores == MISSING_SCORE).all()
    index.add(np.array([7, 8], dtype=np.int64), unit_vectors(2, seed=5))
    scores, found = index.search(unit_vectors(1, seed=6), k=4)
    assert sorted(found[0, :2].tolist()) == [7, 8]
    assert found[0, 2:].tolist() == [-1, -1]
    assert np.all(scores[0, 2:] == MISSING_SCORE)


@backends
def test_given_removed_ids_then_search_never_returns_them(backend: str, tmp_path: Path) -> None:
    index = create_index(backend, MODEL, tmp_path)
    vectors = unit_vectors(100, seed=7)
    index.add(np.arange(100, dtype=np.int64), vectors)
    assert index.remove(np.array([3, 50, 99, 12345], dtype=np.int64)) == 3
    assert index.count() == 97
    _, found = index.search(vectors[[3, 50, 99]], k=100)
    assert not np.isin(found, [3, 50, 99]).any()
    assert 3 not in index.ids() and index.ids().tolist() == sorted(index.ids().tolist())


@backends
def test_given_allowed_ids_then_only_those_are_returned(backend: str, tmp_path: Path) -> None:
    index = create_index(backend, MODEL, tmp_path)
    vectors = unit_vectors(200, seed=8)
    index.add(np.arange(200, dtype=np.int64), vectors)
    allowed = np.arange(0, 200, 7, dtype=np.int64)
    _scores, found = index.search(unit_vectors(5, seed=9), k=5, allowed_ids=allowed)
    assert np.isin(found, allowed).all()
    _none_scores, none_found = index.search(
        unit_vectors(1, seed=9), k=5, allowed_ids=np.zeros(0, dtype=np.int64)
    )
    assert (none_found == -1).all()


@backends
def test_given_a_persisted_index_when_reopened_then_identical_results(
    backend: str, tmp_path: Path
) -> None:
    index = create_index(backend, MODEL, tmp_path)
    vectors = unit_vectors(300, seed=10)
    index.add(np.arange(300, dtype=np.int64) * 3, vectors)
    index.remove(np.array([0, 3], dtype=np.int64))
    index.persist()
    queries = unit_vectors(10, seed=11)
    before = index.search(queries, k=5)
    reopened = create_index(backend, MODEL, tmp_path)
    assert reopened.count() == 298
    after = reopened.search(queries, k=5)
    np.testing.assert_array_equal(before[1], after[1])
    np.testing.assert_allclose(before[0], after[0])


@backends
def test_given_an_index_of_another_model_on_disk_then_it_is_not_loaded(
    backend: str, tmp_path: Path
) -> None:
    index = create_index(backend, MODEL, tmp_path)
    index.add(np.arange(3, dtype=np.int64), unit_vectors(3, seed=12))
    index.persist()
    assert create_index(backend, OTHER_MODEL, tmp_path).count() == 0


@backends
def test_given_a_damaged_index_file_then_an_empty_index_opens(backend: str, tmp_path: Path) -> None:
    index = create_index(backend, MODEL, tmp_path)
    if not index.owns_files:
        pytest.skip(
            f"{backend} keeps its vectors in a database, not in index files facelens writes; "
            "its analogue (a collection of another layout under the model's name opens empty) "
            "is tests/test_index_milvus.py::test_given_a_collection_of_another_layout_then_an_"
            "empty_index_opens"
        )
    index.add(np.arange(3, dtype=np.int64), unit_vectors(3, seed=13))
    index.persist()
    for file in tmp_path.iterdir():
        if file.suffix != ".json":
            file.write_bytes(b"garbage")
    assert create_index(backend, MODEL, tmp_path).count() == 0


@backends
def test_given_vectors_of_the_wrong_dimension_then_refused(backend: str, tmp_path: Path) -> None:
    index = create_index(backend, MODEL, tmp_path)
    with pytest.raises(InvalidArgumentError, match=r"shape \(n, 16\)"):
        index.add(np.arange(2, dtype=np.int64), np.zeros((2, 8), dtype=np.float32))
    with pytest.raises(InvalidArgumentError):
        index.search(np.zeros((1, 8), dtype=np.float32), k=1)


@backends
def test_given_stored_vectors_then_they_are_those_of_the_faces_held(
    backend: str, tmp_path: Path
) -> None:
    """A backend gives the vectors it keeps (the score cohort reads them) or None (then the
    engine reads the store); what it gives is what was added, of ids still held."""
    index = create_index(backend, MODEL, tmp_path)
    vectors = unit_vectors(50, seed=11)
    index.add(np.arange(10, 60, dtype=np.int64), vectors)
    index.remove(np.array([20], dtype=np.int64))
    held = index.stored_vectors(np.array([30, 20, 12, 999], dtype=np.int64))
    if held is None:
        assert backend != "faiss-tiered", "it keeps every vector in its vector file"
        return  # this backend leaves it to the store
    ids, found = held
    assert ids.tolist() == [12, 30]
    np.testing.assert_allclose(found, vectors[[2, 20]], atol=1e-6)


def test_given_an_unknown_backend_then_the_error_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownBackendError, match="faiss-flat"):
        create_index("annoy", MODEL, tmp_path)
