"""The milvus backend beyond the shared contract (tests/test_index.py runs that against it too),
on Milvus Lite, one file a test in ``tmp_path``: large allowed sets, a collection of another
layout, index types and their settings, and what it does not do (seal vectors, re-key).

Milvus Lite shares the client API with a Milvus server; these tests show API fidelity, not a
cluster's behaviour or speed (docs/scale-out.md)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from pymilvus import DataType, MilvusClient  # type: ignore[import-untyped]

from facelens.config import Settings
from facelens.errors import InvalidArgumentError
from facelens.index import IndexOptions, VectorIndex, create_index
from facelens.index.milvus import MilvusIndex, collection_name, milvus_uri
from facelens.pipeline.embed.base import l2_normalise
from facelens.security.crypto import TemplateCipher, generate_key
from facelens.types import FloatArray, ModelId
from tests.test_index_sealed import files_holding

MODEL = ModelId("test-model", "1", 128)  # files_holding looks for 128-d float32 rows


def unit_vectors(n: int, seed: int) -> FloatArray:
    rng = np.random.default_rng(seed)
    return l2_normalise(rng.standard_normal((n, MODEL.dim)).astype(np.float32))


def milvus(folder: Path, **fields: Any) -> VectorIndex:
    return create_index("milvus", MODEL, folder, IndexOptions(**fields))


def test_given_an_allowed_set_larger_than_one_filter_then_chunks_merge_to_the_exact_top_k(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("facelens.index.milvus.FILTER_MAX_IDS", 7)  # 10,000 on a real run
    index = milvus(tmp_path)
    vectors = unit_vectors(300, seed=1)
    ids = np.arange(300, dtype=np.int64) * 2 + 5
    index.add(ids, vectors)
    allowed = np.concatenate([ids[::3], [999_999]])  # 100 faces in 15 chunks, one unknown id
    queries = unit_vectors(4, seed=2)
    scores, found = index.search(queries, k=12, allowed_ids=allowed)
    exact = queries @ vectors[::3].T
    np.testing.assert_array_equal(found, ids[::3][np.argsort(-exact, axis=1)[:, :12]])
    np.testing.assert_allclose(scores, np.sort(exact, axis=1)[:, ::-1][:, :12], atol=1e-5)
    # Fewer allowed faces than k: padded, as without chunks.
    few_scores, few = index.search(queries[:1], k=5, allowed_ids=ids[:3])
    assert sorted(few[0, :3].tolist()) == sorted(ids[:3].tolist()) and (few[0, 3:] == -1).all()
    assert np.isneginf(few_scores[0, 3:]).all()


def test_given_a_collection_of_another_layout_then_an_empty_index_opens(
    tmp_path: Path, caplog: Any
) -> None:
    """The milvus analogue of a damaged index file: something else under the model's
    collection name is dropped; the engine then repairs the index from the store."""
    name = collection_name("facelens", MODEL)
    client = MilvusClient(milvus_uri("", tmp_path))
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=8)
    index_params = client.prepare_index_params()
    index_params.add_index(field_name="vector", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=index_params)
    client.insert(name, [{"id": 1, "vector": [0.5] * 8}])
    with caplog.at_level(logging.WARNING, logger="facelens.index"):
        index = milvus(tmp_path)
    assert index.count() == 0
    assert "dropped and made anew" in caplog.text
    vectors = unit_vectors(3, seed=3)
    index.add(np.arange(3, dtype=np.int64), vectors)
    assert index.search(vectors, k=1)[1][:, 0].tolist() == [0, 1, 2]


def test_given_hnsw_then_found_and_reopening_as_ivf_flat_reindexes_the_same_rows(
    tmp_path: Path, caplog: Any
) -> None:
    vectors = unit_vectors(400, seed=4)
    hnsw = milvus(
        tmp_path,
        milvus_index_type="HNSW",
        milvus_index_params={"M": 16, "efConstruction": 100},
        milvus_search_params={"ef": 64},
    )
    hnsw.add(np.arange(400, dtype=np.int64), vectors)
    hnsw.persist()
    assert hnsw.search(vectors[:20], k=1)[1][:, 0].tolist() == list(range(20))
    assert hnsw.params()["index_type"] == "HNSW" and hnsw.params()["sealed"] is False
    with caplog.at_level(logging.WARNING, logger="facelens.index"):
        ivf = milvus(
            tmp_path,
            milvus_index_type="IVF_FLAT",
            milvus_index_params={"nlist": 8},
            milvus_search_params={"nprobe": 8},  # every list: exact
        )
    assert "re-indexed" in caplog.text
    assert ivf.count() == 400
    assert ivf.search(vectors[:20], k=1)[1][:, 0].tolist() == list(range(20))


def test_given_an_index_type_milvus_lite_does_not_build_then_refused_with_the_reason(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValidationError, match="builds only FLAT, HNSW, IVF_FLAT, IVF_SQ8"):
        Settings(index_backend="milvus", milvus_index_type="IVF_PQ")
    with pytest.raises(InvalidArgumentError, match="needs a Milvus server"):
        milvus(tmp_path, milvus_index_type="DISKANN")
    with pytest.raises(InvalidArgumentError, match="is not one of"):
        milvus(tmp_path, milvus_index_type="ANNOY")
    # On a server it is a valid setting (not connected to here).
    server = Settings(
        index_backend="milvus", index_url="milvus://milvus:19530", milvus_index_type="IVF_PQ"
    )
    assert milvus_uri(server.index_url, tmp_path) == "http://milvus:19530"
    with pytest.raises(ValidationError, match=r"ending in \.db"):
        Settings(index_backend="milvus", index_url="/var/lib/facelens/vectors")
    with pytest.raises(ValidationError, match="a letter or _"):
        Settings(milvus_collection_prefix="9-bad")


def test_given_models_then_each_has_its_own_valid_collection_name() -> None:
    a = collection_name("facelens", ModelId("dlib-resnet", "1", 128))
    b = collection_name("facelens", ModelId("dlib_resnet", "1", 128))
    assert a != b and a.startswith("facelens_dlib_resnet_1_128_")
    assert all(c.isalnum() or c == "_" for c in a + b)


def test_given_k_past_what_milvus_returns_then_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="at most 16384"):
        milvus(tmp_path).search(unit_vectors(1, seed=5), k=16_385)


def test_given_a_key_then_milvus_holds_the_vectors_unsealed_and_rekey_changes_nothing(
    tmp_path: Path,
) -> None:
    """What the milvus backend does not do, stated: facelens seals nothing it keeps in Milvus
    (so tests/test_index_sealed.py does not apply to it). Another key opens the same vectors,
    ``rekey`` re-seals nothing, and the Lite file holds the templates in plain."""
    key, other = TemplateCipher(generate_key()), TemplateCipher(generate_key())
    vectors = unit_vectors(50, seed=6)
    index = milvus(tmp_path, cipher=key)
    assert isinstance(index, MilvusIndex) and not index.owns_files
    index.add(np.arange(50, dtype=np.int64), vectors)
    index.persist()
    before = index.search(vectors[:5], k=3)
    index.rekey(other)
    assert index.options.cipher is other
    reopened = milvus(tmp_path, cipher=key)  # the old key: not discarded, nothing was sealed
    assert reopened.count() == 50
    np.testing.assert_array_equal(reopened.search(vectors[:5], k=3)[1], before[1])
    assert index.params()["sealed"] is False
    assert files_holding(tmp_path, vectors), "Milvus Lite keeps the vectors in plain"


def test_given_removed_faces_when_compacted_then_gone_and_the_rest_kept(tmp_path: Path) -> None:
    index = milvus(tmp_path)
    vectors = unit_vectors(30, seed=7)
    index.add(np.arange(30, dtype=np.int64), vectors)
    index.persist()
    assert index.remove(np.array([4, 4, 5, 31], dtype=np.int64)) == 2
    index.compact()
    assert index.count() == 28 and not np.isin([4, 5], index.ids()).any()
    assert index.search(vectors[[4]], k=30)[1][0, -2:].tolist() == [-1, -1]
