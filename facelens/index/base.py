"""The vector index contract and its registry.

One contract, batch-first, like FAISS's own: ``add`` ids with vectors, ``search`` a batch of
queries, ``remove`` ids, ``count``, ``ids``, ``persist``. Vectors are L2-normalised float32, so
the inner product is the cosine similarity; scores are similarities in [-1, 1], higher first.
An index is derived data: the engine rebuilds or repairs it from the store whenever they differ.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facelens.errors import InvalidArgumentError
from facelens.registry import Registry
from facelens.types import FloatArray, IdArray, ModelId

#: Score returned in padding slots when fewer than ``k`` vectors qualify (their id is -1).
MISSING_SCORE = -np.inf


@dataclass(frozen=True, slots=True)
class IndexOptions:
    """How an index scales, from the ``ann_*`` settings (see ``facelens.config``)."""

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


class VectorIndex(ABC):
    backend: str = ""

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

    def _check(self, vectors: FloatArray, what: str) -> FloatArray:
        array = np.ascontiguousarray(vectors, dtype=np.float32)
        if array.ndim != 2 or array.shape[1] != self.dim:
            raise InvalidArgumentError(
                f"{what} must have shape (n, {self.dim}) for {self.model}, got {array.shape}"
            )
        return array


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
