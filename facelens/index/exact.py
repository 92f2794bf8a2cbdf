"""Exact scoring for ``faiss-tiered``: the exact tier's FAISS search, a scan of a small allowed
subset straight from the vector file, and the exact re-ranking of an approximate short list.

Every function returns true cosine similarities (n, k) best first with their ids, padded with
``MISSING_SCORE`` / -1 when fewer than ``k`` faces qualify.
"""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from facelens.index.base import MISSING_SCORE
from facelens.index.vector_file import VectorFile
from facelens.types import FloatArray, IdArray


def search_flat(
    exact: Any, queries: FloatArray, k: int, allowed: IdArray | None
) -> tuple[FloatArray, IdArray]:
    """Search the exact tier (``IndexIDMap2(IndexFlatIP)``), within ``allowed`` when given."""
    params = None
    if allowed is not None:
        params = faiss.SearchParameters()
        params.sel = faiss.IDSelectorBatch(allowed)
    scores, ids = exact.search(queries, k, params=params)
    scores = np.where(ids >= 0, np.clip(scores, -1.0, 1.0), MISSING_SCORE)
    return scores.astype(np.float32), ids.astype(np.int64)


def search_subset(
    vectors: FloatArray, queries: FloatArray, k: int, allowed: IdArray
) -> tuple[FloatArray, IdArray]:
    """Exact search over a few faces (a small collection): ``vectors`` are ``allowed``'s."""
    scores = np.clip(queries @ vectors.T, -1.0, 1.0)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    top_scores = np.take_along_axis(scores, order, axis=1).astype(np.float32)
    top_ids = allowed[order]
    return padded(top_scores, top_ids, k)


def rerank(
    vectors: VectorFile,
    live: npt.NDArray[np.bool_],
    queries: FloatArray,
    candidates: IdArray,
    k: int,
) -> tuple[FloatArray, IdArray]:
    """Score each query's candidates (n, c) exactly and keep the best ``k``; tombstones (ids
    not ``live``) and repeats of an id (a face deleted and added again) are dropped."""
    candidates = np.array(candidates, dtype=np.int64)
    known = (candidates >= 0) & (candidates < len(live))
    candidates[known & ~live[np.where(known, candidates, 0)]] = -1
    candidates[~known] = -1
    by_id = np.sort(candidates, axis=1)
    if (by_id[:, 1:] == by_id[:, :-1])[by_id[:, 1:] >= 0].any():
        for row in candidates:
            _, first = np.unique(row, return_index=True)
            repeated = np.ones(len(row), dtype=bool)
            repeated[first] = False
            row[repeated] = -1
    rows = vectors.read(candidates)  # (n, c, dim); -1 padding reads as zeros
    scores = np.einsum("ncd,nd->nc", rows, queries)
    scores = np.where(candidates >= 0, np.clip(scores, -1.0, 1.0), MISSING_SCORE)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    top_scores = np.take_along_axis(scores, order, axis=1).astype(np.float32)
    top_ids = np.take_along_axis(np.asarray(candidates, dtype=np.int64), order, axis=1)
    top_ids = np.where(np.isfinite(top_scores), top_ids, -1)
    return padded(top_scores, top_ids, k)


def padded(scores: FloatArray, ids: IdArray, k: int) -> tuple[FloatArray, IdArray]:
    """Pad to ``k`` columns when fewer candidates than ``k`` qualified."""
    missing = k - scores.shape[1]
    if missing > 0:
        scores = np.pad(scores, ((0, 0), (0, missing)), constant_values=MISSING_SCORE)
        ids = np.pad(ids, ((0, 0), (0, missing)), constant_values=-1)
    return scores, ids
