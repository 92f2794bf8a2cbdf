"""Index stage: vector search over face embeddings. Backends register themselves by name."""

from pathlib import Path

from facelens.index import faiss_flat as _faiss_flat  # noqa: F401  (registers the backend)
from facelens.index import faiss_tiered as _faiss_tiered  # noqa: F401  (registers the backend)
from facelens.index.base import (
    MISSING_SCORE,
    IndexOptions,
    VectorIndex,
    available_indexes,
    create_index,
    register_index,
)
from facelens.types import ModelId


def _milvus(model: ModelId, folder: Path, options: IndexOptions) -> VectorIndex:
    """The milvus backend, imported when first opened (pymilvus takes a second to import)."""
    from facelens.index.milvus import MilvusIndex

    return MilvusIndex(model, folder, options)


register_index("milvus", _milvus)

__all__ = ["MISSING_SCORE", "IndexOptions", "VectorIndex", "available_indexes", "create_index"]
