"""The vector index contract and its registry.

One contract, batch-first, like FAISS's own: ``add`` ids with vectors, ``search`` a batch of
queries, ``remove`` ids, ``count``, ``ids``, ``persist``. Vectors are L2-normalised float32, so
the inner product is the cosine similarity; scores are similarities in [-1, 1], higher first.
An index is derived data: the engine rebuilds or repairs it from the store whenever they differ.

With a template key (``IndexOptions.cipher``) every file holding templates is sealed
(``facelens.security.crypto``); files sealed with another key, or written in plain, are not
opened but discarded, and the engine rebuilds the index from the store.
"""

from __future__ import annotations

import os
import struct
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from facelens.errors import DecryptionError, InvalidArgumentError
from facelens.registry import Registry
from facelens.security.crypto import OVERHEAD_BYTES, TemplateCipher
from facelens.types import FloatArray, IdArray, ModelId

#: Score returned in padding slots when fewer than ``k`` vectors qualify (their id is -1).
MISSING_SCORE = -np.inf
#: Associated data of a sealed index file; each chunk appends its number and the chunk count,
#: so chunks cannot be reordered, dropped or the file truncated unnoticed.
INDEX_FILE_AAD = b"facelens/index/v1"
#: Plaintext bytes a chunk of a sealed index file: AES-GCM seals at most 2 GiB in one call (an
#: exact index of 4M faces is past that), and chunks keep the transient copies small.
SEALED_CHUNK_BYTES = 64 << 20


@dataclass(frozen=True, slots=True)
class IndexOptions:
    """How an index scales, from the ``ann_*`` and ``milvus_*`` settings (see
    ``facelens.config``)."""

    ann_min_faces: int = 100_000
    ann_nlist: int = 0  # 0: chosen from the gallery size when the index is built
    ann_pq_subquantizers: int = 64
    ann_nprobe: int = 0  # 0: a 16th of the lists, at least 256
    ann_rerank_candidates: int = 256
    ann_train_faces: int = 400_000
    ann_max_dead_share: float = 0.02
    build_in_background: bool = True
    #: Parameters of the last approximate index built, as recorded in the store (restarts and
    #: rebuilds reuse them rather than choosing anew).
    recorded_params: dict[str, Any] | None = None
    #: Seals every file holding templates (None: plain files).
    cipher: TemplateCipher | None = None
    #: The milvus backend: where Milvus is ("": a Milvus Lite file in the index folder), its
    #: credentials, the collection names' prefix, and how it indexes and searches.
    milvus_url: str = ""
    milvus_token: str | None = None
    milvus_collection_prefix: str = "facelens"
    milvus_index_type: str = "FLAT"
    milvus_index_params: dict[str, Any] = field(default_factory=dict)
    milvus_search_params: dict[str, Any] = field(default_factory=dict)


class VectorIndex(ABC):
    backend: str = ""
    #: Whether the backend keeps its vectors in files of its own in ``folder``, written by
    #: facelens and sealed with ``options.cipher`` (so damage to them is detected, and another
    #: key opens them empty). False for a backend whose vectors live in a database facelens
    #: neither writes nor seals (milvus): the tests of damaged and sealed files do not apply.
    owns_files: bool = True

    def __init__(self, model: ModelId, folder: Path, options: IndexOptions | None = None) -> None:
        self.model = model
        self.dim = model.dim
        self.folder = folder
        self.options = options or IndexOptions()

    @abstractmethod
    def add(self, ids: IdArray, vectors: FloatArray) -> None:
        """Add ``vectors`` (n, dim) float32 under ``ids`` (n,) int64. Ids must be new."""

    @abstractmethod
    def search(
        self, queries: FloatArray, k: int, allowed_ids: IdArray | None = None
    ) -> tuple[FloatArray, IdArray]:
        """Top ``k`` for each of ``queries`` (n, dim): scores (n, k) float32 best first and ids
        (n, k) int64, padded with ``MISSING_SCORE`` / -1. With ``allowed_ids``, only those."""

    @abstractmethod
    def remove(self, ids: IdArray) -> int:
        """Remove ``ids``; returns how many were present."""

    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def ids(self) -> IdArray:
        """Every id held, ascending."""

    @abstractmethod
    def persist(self) -> None:
        """Write to ``folder`` atomically (a crash leaves the previous copy intact)."""

    @abstractmethod
    def clear(self) -> None: ...

    def stored_vectors(self, ids: IdArray) -> tuple[IdArray, FloatArray] | None:
        """The ids of ``ids`` held (ascending) and their vectors, from a backend that keeps
        them where thousands read faster than from the store (the score cohort's 5,000 at 10
        million faces: 0.12 s from the vector file, 1.2 s from SQLite). None: read the store."""
        return None

    def params(self) -> dict[str, Any]:
        """What the index is and how it was built, for the store and ``stats``."""
        return {"backend": self.backend}

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Add many faces inside this block; derived structures are built once, at the end,
        for the final size (``index rebuild``)."""
        yield

    def wait_for_build(self, timeout_s: float | None = None) -> bool:
        """Block until a background build (if any) has been swapped in; False on timeout."""
        return True

    def compact(self) -> None:
        """Drop every trace of removed ids now (erasure): a backend that keeps deleted codes
        as tombstones for a while rebuilds without them before returning. Backends that
        remove at once have nothing to do."""
        return

    def rekey(self, cipher: TemplateCipher) -> None:
        """Seal with ``cipher`` from now on: every file re-sealed with it, then persisted.

        This default suits a backend whose ``persist`` rewrites each of its files (tmp +
        replace, so no file under the old key remains)."""
        self.options = replace(self.options, cipher=cipher)
        self.persist()

    def _key_problem(self, sealed_with: object) -> str | None:
        """Why files recorded as sealed with ``sealed_with`` (a key id; None: plain) cannot be
        opened with the configured key, or None when they can."""
        cipher = self.options.cipher
        expected = cipher.key_id if cipher is not None else None
        if sealed_with == expected:
            return None
        if expected is None:
            return f"is sealed with key {sealed_with}, and no template key is configured"
        if sealed_with is None:
            return "is not sealed, and a template key is configured"
        return f"is sealed with key {sealed_with}, not the configured key {expected}"

    def _check(self, vectors: FloatArray, what: str) -> FloatArray:
        array = np.ascontiguousarray(vectors, dtype=np.float32)
        if array.ndim != 2 or array.shape[1] != self.dim:
            raise InvalidArgumentError(
                f"{what} must have shape (n, {self.dim}) for {self.model}, got {array.shape}"
            )
        return array

    def _check_added(self, ids: IdArray, vectors: FloatArray) -> tuple[IdArray, FloatArray]:
        """What ``add`` was given, checked: as many int64 ids as vectors of the model's shape."""
        array = self._check(vectors, "vectors")
        id_array = np.ascontiguousarray(ids, dtype=np.int64)
        if len(id_array) != len(array):
            raise ValueError(f"{len(id_array)} ids for {len(array)} vectors")
        return id_array, array


def write_sealed_file(path: Path, data: npt.NDArray[np.uint8], cipher: TemplateCipher) -> None:
    """Seal ``data`` (a serialised index) with ``cipher`` into ``path``, atomically (tmp +
    replace: a crash leaves the previous file)."""
    flat = np.ascontiguousarray(data, dtype=np.uint8).reshape(-1)
    chunks = max(1, -(-len(flat) // SEALED_CHUNK_BYTES))
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as sink:
        for number in range(chunks):
            chunk = flat[number * SEALED_CHUNK_BYTES : (number + 1) * SEALED_CHUNK_BYTES]
            sink.write(cipher.seal(chunk.tobytes(), _chunk_aad(number, chunks)))
    os.replace(tmp, path)


def sealed_chunks(path: Path, cipher: TemplateCipher) -> Generator[memoryview, None, None]:
    """The plaintext of a file written by ``write_sealed_file``, chunk by chunk: each a view of
    one buffer, good until the next is asked for. Raises ``DecryptionError`` when a chunk does
    not open with ``cipher`` (another key, altered, truncated or reordered)."""
    size = path.stat().st_size
    sealed_chunk = SEALED_CHUNK_BYTES + OVERHEAD_BYTES
    chunks = max(1, -(-size // sealed_chunk))
    if size < chunks * OVERHEAD_BYTES:
        raise DecryptionError(f"{path.name} is too short to be a sealed file")
    sealed = bytearray(min(size, sealed_chunk))
    plain = memoryview(bytearray(len(sealed) - OVERHEAD_BYTES))
    with path.open("rb") as source:
        for number in range(chunks):
            read = source.readinto(sealed)
            opened = plain[: read - OVERHEAD_BYTES]
            cipher.open_into(memoryview(sealed)[:read], opened, _chunk_aad(number, chunks))
            yield opened


def _chunk_aad(number: int, chunks: int) -> bytes:
    return INDEX_FILE_AAD + struct.pack("<QQ", number, chunks)


IndexFactory = Callable[[ModelId, Path, IndexOptions], VectorIndex]
INDEXES: Registry[IndexFactory] = Registry("index backend")


def register_index(name: str, factory: IndexFactory) -> None:
    INDEXES.register(name, factory)


def create_index(
    backend: str, model: ModelId, folder: Path, options: IndexOptions | None = None
) -> VectorIndex:
    """Open the index persisted in ``folder`` for ``model``, or an empty one."""
    return INDEXES.get(backend)(model, folder, options or IndexOptions())


def available_indexes() -> list[str]:
    return INDEXES.names()
