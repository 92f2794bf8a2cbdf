"""Full-precision vectors on disk, one row per face id, for exact re-ranking.

The approximate index keeps only short codes in RAM (its budget is about 100 bytes a face); the
exact vectors it re-ranks its short list with live here, memory-mapped, addressed directly by
face id (row ``i`` holds face ``i``), so a lookup needs no id map. Store ids are dense integers
from 1, so gaps are few; the file is sparse where they are. Removing a face zeroes its row:
erasure leaves no copy of the embedding behind.

Two formats, each with its own file name so that a file's name always says how to read it:

- plain, ``vectors.f32``: a row is the ``dim`` float32 values;
- sealed (with a template key), ``vectors.sealed``: a row is ``nonce | ciphertext | tag``
  (``dim * 4 + 28`` bytes), AES-GCM with the face id in the associated data, so a row moved to
  another id does not open. A row of zeros is an empty or erased face in both.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from facelens.ids import unique_ids
from facelens.security.crypto import OVERHEAD_BYTES, TemplateCipher
from facelens.types import FloatArray, IdArray

#: Ids beyond this would make the file absurdly large (2**31 rows of 512 bytes = 1 TiB sparse).
MAX_FACE_ID = 2**31 - 1
PLAIN_NAME = "vectors.f32"
SEALED_NAME = "vectors.sealed"
#: Associated data of a sealed row; the face id (8 bytes, little-endian) follows.
ROW_AAD = b"facelens/index/vector/v1:"
_MIN_ROWS = 1024
_RESEAL_ROWS = 65_536


def vector_file_name(cipher: TemplateCipher | None) -> str:
    return PLAIN_NAME if cipher is None else SEALED_NAME


class VectorFile:
    def __init__(self, path: Path, dim: int, cipher: TemplateCipher | None = None) -> None:
        self.path = path
        self.dim = dim
        self.cipher = cipher
        # Plain rows map as float32 (dim values); sealed rows as raw bytes.
        self._dtype: type[np.generic] = np.float32 if cipher is None else np.uint8
        self._row_bytes = dim * 4 + (OVERHEAD_BYTES if cipher is not None else 0)
        self._width = dim if cipher is None else self._row_bytes
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.touch()
        self._rows = path.stat().st_size // self._row_bytes
        self._map: np.memmap | None = None
        if self._rows:
            self._map = np.memmap(
                path, dtype=self._dtype, mode="r+", shape=(self._rows, self._width)
            )

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
        self._map = np.memmap(
            self.path, dtype=self._dtype, mode="r+", shape=(new_rows, self._width)
        )
        self._rows = new_rows

    def write(self, ids: IdArray, vectors: FloatArray) -> None:
        if not len(ids):
            return
        check_ids(ids)
        self._ensure_rows(int(ids.max()) + 1)
        assert self._map is not None
        if self.cipher is None:
            self._map[ids] = vectors
            return
        seal = self.cipher.seal
        plain = np.ascontiguousarray(vectors, dtype="<f4")
        sealed = b"".join(
            seal(row.tobytes(), _row_aad(face_id))
            for face_id, row in zip(ids.tolist(), plain, strict=True)
        )
        self._map[ids] = np.frombuffer(sealed, dtype=np.uint8).reshape(len(ids), self._row_bytes)

    def read(self, ids: IdArray) -> FloatArray:
        """Rows of ``ids`` (any shape); ids outside the file (such as -1 padding) and empty
        rows read as zero vectors. A sealed row that does not open with the key raises
        ``DecryptionError``."""
        out = np.zeros((*ids.shape, self.dim), dtype=np.float32)
        if self._map is None:
            return out
        if self.cipher is None:
            valid = (ids >= 0) & (ids < self._rows)
            self._advise(ids[valid])
            out[valid] = self._map[ids[valid]]
            return out
        mapping = self._map  # one mapping throughout, should a writer grow the file meanwhile
        flat_ids = ids.reshape(-1)
        where = np.flatnonzero((flat_ids >= 0) & (flat_ids < len(mapping)))
        self._advise(flat_ids[where])
        rows = mapping[flat_ids[where]]
        stored = rows.any(axis=1)
        where, rows = where[stored], rows[stored]
        if not len(where):
            return out
        # The hot loop of a sealed re-rank (256 rows a query): locals and a list, no calls
        # but the decryption's own.
        open_blob, size, blobs = self.cipher.open, self._row_bytes, rows.tobytes()
        plain = b"".join(
            [
                open_blob(blobs[offset : offset + size], ROW_AAD + face_id.to_bytes(8, "little"))
                for offset, face_id in zip(
                    range(0, len(blobs), size), flat_ids[where].tolist(), strict=True
                )
            ]
        )
        out.reshape(-1, self.dim)[where] = np.frombuffer(plain, dtype="<f4").reshape(-1, self.dim)
        return out

    def _advise(self, ids: IdArray) -> None:
        """Tell the kernel every row about to be read, so that rows not in the page cache are
        read at once, not one page fault after another: 256 rows of a cold 9 GB file took
        1.9 s faulted in one by one and 0.02 s advised first."""
        if not hasattr(os, "posix_fadvise") or not len(ids):
            return  # not on macOS or Windows: rows are then faulted in one by one
        rows = unique_ids(ids)
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1  # one call a run of consecutive rows
        firsts, lasts = rows[np.r_[0, breaks]].tolist(), rows[np.r_[breaks - 1, -1]].tolist()
        size = self._row_bytes
        descriptor = os.open(self.path, os.O_RDONLY)
        try:
            for first, last in zip(firsts, lasts, strict=True):
                length = (last - first + 1) * size
                os.posix_fadvise(descriptor, first * size, length, os.POSIX_FADV_WILLNEED)
        finally:
            os.close(descriptor)

    def erase(self, ids: IdArray) -> None:
        inside = ids[(ids >= 0) & (ids < self._rows)]
        if len(inside) and self._map is not None:
            self._map[inside] = 0

    def flush(self) -> None:
        if self._map is not None:
            self._map.flush()

    def clear(self) -> None:
        self._map = None
        self._rows = 0
        os.truncate(self.path, 0)

    def resealed(self, path: Path, cipher: TemplateCipher | None) -> VectorFile:
        """These rows sealed with ``cipher`` (None: plain) into ``path``, written to a
        temporary file first and then put in place, so ``path`` is whole, in one format,
        whenever it exists. Empty rows stay sparse. The caller drops this object."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.unlink(missing_ok=True)
        target = VectorFile(tmp, self.dim, cipher)
        if self._map is not None:
            for start in range(0, self._rows, _RESEAL_ROWS):
                ids = np.arange(start, min(start + _RESEAL_ROWS, self._rows), dtype=np.int64)
                ids = ids[np.asarray(self._map[ids]).any(axis=1)]
                target.write(ids, self.read(ids))
        target.flush()
        target._map = None
        os.replace(tmp, path)
        return VectorFile(path, self.dim, cipher)

    def disk_bytes(self) -> int:
        """Bytes the (sparse) file occupies on disk."""
        return os.stat(self.path).st_blocks * 512


def _row_aad(face_id: int) -> bytes:
    return ROW_AAD + face_id.to_bytes(8, "little")


def check_ids(ids: IdArray) -> None:
    if len(ids) and (int(ids.min()) < 0 or int(ids.max()) > MAX_FACE_ID):
        raise ValueError(f"face ids must lie in [0, {MAX_FACE_ID}]")
