"""Index stage: vector search over face embeddings. Backends register themselves by name."""

from facelens.index import faiss_flat as _faiss_flat  # noqa: F401  (registers the backend)
from facelens.index.base import MISSING_SCORE, VectorIndex, available_indexes, create_index

__all__ = ["MISSING_SCORE", "VectorIndex", "available_indexes", "create_index"]
