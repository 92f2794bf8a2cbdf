"""Index stage: vector search over face embeddings. Backends register themselves by name."""

from facelens.index import faiss_flat as _faiss_flat  # noqa: F401  (registers the backend)
from facelens.index import faiss_tiered as _faiss_tiered  # noqa: F401  (registers the backend)
from facelens.index.base import (
    MISSING_SCORE,
    IndexOptions,
    VectorIndex,
    available_indexes,
    create_index,
)

__all__ = ["MISSING_SCORE", "IndexOptions", "VectorIndex", "available_indexes", "create_index"]
