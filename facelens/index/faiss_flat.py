"""Exact search with FAISS: ``IndexIDMap2`` over ``IndexFlatIP`` (inner product of unit
vectors = cosine similarity). Persisted as a FAISS file plus a JSON sidecar naming the model."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from facelens.index.base import MISSING_SCORE, IndexOptions, VectorIndex, register_index
from facelens.types import FloatArray, IdArray, ModelId


class FaissFlatIndex(VectorIndex):
    backend = "faiss-flat"

    def __init__(self, model: ModelId, folder: Path, options: IndexOptions | None = None) -> None:
        super().__init__(model, folder, options)
        self._file = folder / f"{self.backend}.faiss"
        self._sidecar = folder / f"{self.backend}.json"
        self._index: Any = self._load() or self._empty()

    def _empty(self) -> Any:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def _load(self) -> Any | None:
        """The persisted index, or None when absent, unreadable or made by another model (the
        engine then rebuilds it from the store)."""
        if not (self._file.is_file() and self._sidecar.is_file()):
            return None
        try:
            meta = json.loads(self._sidecar.read_text())
            if meta.get("model") != str(self.model):
                return None
            index = faiss.read_index(str(self._file))
        except (OSError, ValueError, RuntimeError):
            return None
        return index if index.d == self.dim else None

    def add(self, ids: IdArray, vectors: FloatArray) -> None:
        array = self._check(vectors, "vectors")
        id_array = np.ascontiguousarray(ids, dtype=np.int64)
        if len(id_array) != len(array):
            raise ValueError(f"{len(id_array)} ids for {len(array)} vectors")
        if len(id_array):
            self._index.add_with_ids(array, id_array)

    def search(
        self, queries: FloatArray, k: int, allowed_ids: IdArray | None = None
    ) -> tuple[FloatArray, IdArray]:
        array = self._check(queries, "queries")
        n = len(array)
        if (
            n == 0
            or k <= 0
            or self.count() == 0
            or (allowed_ids is not None and not len(allowed_ids))
        ):
            return (
                np.full((n, max(k, 0)), MISSING_SCORE, dtype=np.float32),
                np.full((n, max(k, 0)), -1, dtype=np.int64),
            )
        params = None
        if allowed_ids is not None:
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed_ids, dtype=np.int64))
            params = faiss.SearchParameters()
            params.sel = selector
        scores, ids = self._index.search(array, k, params=params)
        scores = np.where(ids >= 0, np.clip(scores, -1.0, 1.0), MISSING_SCORE)
        return scores.astype(np.float32), ids.astype(np.int64)

    def remove(self, ids: IdArray) -> int:
        id_array = np.ascontiguousarray(ids, dtype=np.int64)
        if not len(id_array):
            return 0
        return int(self._index.remove_ids(faiss.IDSelectorBatch(id_array)))

    def count(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> IdArray:
        return np.sort(faiss.vector_to_array(self._index.id_map).astype(np.int64))

    def persist(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self._file.with_suffix(".faiss.tmp")
        faiss.write_index(self._index, str(tmp))
        os.replace(tmp, self._file)
        meta_tmp = self._sidecar.with_suffix(".json.tmp")
        meta_tmp.write_text(json.dumps({"model": str(self.model), "backend": self.backend}))
        os.replace(meta_tmp, self._sidecar)

    def clear(self) -> None:
        self._index = self._empty()


register_index(FaissFlatIndex.backend, FaissFlatIndex)
