"""Full-precision vectors on disk, one row per face id, for exact re-ranking.

The approximate index keeps only short codes in RAM (its budget is about 100 bytes a face); the
exact vectors it re-ranks its short list with live here, memory-mapped, addressed directly by
face id (row ``i`` holds face ``i``), so a lookup needs no id map. Store ids are dense integers
from 1, so gaps are few; the file is sparse where they are. Removing a face zeroes its row:
erasure leaves no copy of the embedding behind.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from facelens.types import FloatArray, IdArray

#: Ids beyond this would make the file absurdly large (2**31 rows of 512 bytes = 1 TiB sparse).
MAX_FACE_ID = 2**31 - 1
_MIN_ROWS = 1024


class VectorFile:
    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.dim = dim
        self._row_bytes = dim * 4
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.touch()
        self._rows = path.stat().st_size // self._row_bytes
        self._map: np.memmap | None = None
        if self._rows:
            self._map = np.memmap(path, dtype=np.float32, mode="r+", shape=(self._rows, dim))

    @property
    def capacity(self) -> int:
        return self._rows

    def _ensure_rows(self, rows: int) -> None:
        if rows <= self._rows:
            return
        new_rows = max(_MIN_ROWS, self._rows)
        while new_rows < rows:
            new_rows *= 2
        if self._map is not None:
            self._map.flush()
        # Truncating up makes a sparse file; the old mapping stays valid for any reader that
        # still holds it (a background index build), so it is dropped, not closed.
        os.truncate(self.path, new_rows * self._row_bytes)
        self._map = np.memmap(self.path, dtype=np.float32, mode="r+", shape=(new_rows, self.dim))
        self._rows = new_rows

    def write(self, ids: IdArray, vectors: FloatArray) -> None:
        if not len(ids):
            return
        check_ids(ids)
        self._ensure_rows(int(ids.max()) + 1)
        assert self._map is not None
        self._map[ids] = vectors

    def read(self, ids: IdArray) -> FloatArray:
        """Rows of ``ids`` (any shape); ids outside the file (such as -1 padding) read as
        zero vectors."""
        out = np.zeros((*ids.shape, self.dim), dtype=np.float32)
        if self._map is None:
            return out
        valid = (ids >= 0) & (ids < self._rows)
        out[valid] = self._map[ids[valid]]
        return out

    def erase(self, ids: IdArray) -> None:
        inside = ids[(ids >= 0) & (ids < self._rows)]
        if len(inside) and self._map is not None:
            self._map[inside] = 0.0

    def flush(self) -> None:
        if self._map is not None:
            self._map.flush()

    def clear(self) -> None:
        self._map = None
        self._rows = 0
        os.truncate(self.path, 0)

    def disk_bytes(self) -> int:
        """Bytes the (sparse) file occupies on disk."""
        return os.stat(self.path).st_blocks * 512


def check_ids(ids: IdArray) -> None:
    if len(ids) and (int(ids.min()) < 0 or int(ids.max()) > MAX_FACE_ID):
        raise ValueError(f"face ids must lie in [0, {MAX_FACE_ID}]")
