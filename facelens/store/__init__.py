"""Store stage: the metadata store, source of truth for everything the index holds."""

from facelens.store import sql as _sql  # noqa: F401  (registers the sqlite backend)
from facelens.store.base import (
    AccessStore,
    AddedImage,
    FaceRecord,
    GalleryStore,
    MetadataStore,
    NewImage,
    PrivacyStore,
    StoreCounts,
    available_stores,
    create_store,
)

__all__ = [
    "AccessStore",
    "AddedImage",
    "FaceRecord",
    "GalleryStore",
    "MetadataStore",
    "NewImage",
    "PrivacyStore",
    "StoreCounts",
    "available_stores",
    "create_store",
]
