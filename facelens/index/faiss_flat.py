"""Exact search with FAISS: ``IndexIDMap2`` over ``IndexFlatIP`` (inner product of unit
vectors = cosine similarity). Persisted as a FAISS file plus a JSON sidecar naming the model and
the key the file is sealed with (``sealed_with``: a key id, or null for a plain FAISS file)."""

from __future__ import annotations

import json
import logging
import os
from contextlib import closing
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from facelens.errors import DecryptionError
from facelens.index.base import (
    MISSING_SCORE,
    IndexOptions,
    VectorIndex,
    register_index,
    sealed_chunks,
    write_sealed_file,
)
from facelens.security.crypto import TemplateCipher
from facelens.types import FloatArray, IdArray, ModelId

log = logging.getLogger(__name__)

#: What FAISS asks of a sealed file at a time.
READ_BYTES = 1 << 20


def read_sealed_index(path: Path, cipher: TemplateCipher) -> Any:
    """A FAISS index from a sealed file, each chunk opened as FAISS reads on: no buffer of the
    whole plaintext, which FAISS copies once more (0.48 s against 0.28 s at 10 million faces).
    Raises ``DecryptionError`` when a chunk does not open, ``ValueError`` on trailing data."""
    failed: list[Exception] = []
    pending = memoryview(b"")
    with closing(sealed_chunks(path, cipher)) as chunks:

        def read(size: int) -> bytes:
            nonlocal pending
            try:
                while not pending:
                    pending = next(chunks)
            except StopIteration:
                return b""  # FAISS reports a short read
            except Exception as exc:  # raised in FAISS's call: kept, and raised below
                failed.append(exc)
                return b""
            piece, pending = pending[:size], pending[size:]
            return piece.tobytes()

        try:
            reader = faiss.PyCallbackIOReader(read, READ_BYTES)  # type: ignore[attr-defined]
            index = faiss.read_index(reader)  # (faiss's stubs lack the callback reader)
        except RuntimeError:
            if failed:
                raise failed[0] from None
            raise
        if pending or next(chunks, None) is not None:  # the rest is read, so it is opened
            raise ValueError(f"{path.name} holds more than one index")
    return index


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
        """The persisted index, or None when absent, unreadable, made by another model or
        sealed with another key than the configured one (the engine then rebuilds it from the
        store)."""
        if not (self._file.is_file() and self._sidecar.is_file()):
            return None
        try:
            meta = json.loads(self._sidecar.read_text())
        except (OSError, ValueError):
            return None
        if meta.get("model") != str(self.model):
            return None
        cipher = self.options.cipher
        problem = self._key_problem(meta.get("sealed_with"))
        if problem is None:
            try:
                if cipher is None:
                    index = faiss.read_index(str(self._file))
                else:
                    index = read_sealed_index(self._file, cipher)
            except DecryptionError:
                problem = "does not open with the configured key"
            except Exception as exc:  # derived files: any damage means rebuild
                problem = f"cannot be read ({type(exc).__name__}: {exc})"
            else:
                return index if index.d == self.dim else None
        log.warning(
            "the index in %s %s; starting empty (the engine rebuilds it from the store)",
            self.folder,
            problem,
        )
        # Files sealed with another key (or plain templates, now that a key is set) are of no
        # use and must not linger; the sidecar goes first, so a half is never read.
        self._sidecar.unlink(missing_ok=True)
        self._file.unlink(missing_ok=True)
        return None

    def add(self, ids: IdArray, vectors: FloatArray) -> None:
        id_array, array = self._check_added(ids, vectors)
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
        cipher = self.options.cipher
        if cipher is None:
            tmp = self._file.with_suffix(".faiss.tmp")
            faiss.write_index(self._index, str(tmp))
            os.replace(tmp, self._file)
        else:
            write_sealed_file(self._file, faiss.serialize_index(self._index), cipher)
        meta = {
            "model": str(self.model),
            "backend": self.backend,
            "sealed_with": cipher.key_id if cipher is not None else None,
        }
        meta_tmp = self._sidecar.with_suffix(".json.tmp")
        meta_tmp.write_text(json.dumps(meta))
        os.replace(meta_tmp, self._sidecar)

    def clear(self) -> None:
        self._index = self._empty()


register_index(FaissFlatIndex.backend, FaissFlatIndex)
