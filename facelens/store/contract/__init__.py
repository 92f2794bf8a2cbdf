"""The metadata store contract, by area. The store is the source of truth: the index is
derived from it and can always be rebuilt from ``embeddings()``.

Every backend implements ``MetadataStore``, the four area protocols together, and passes the
same contract tests (``tests/test_store*.py``, parametrised over ``available_stores()``).
"""

from __future__ import annotations

from typing import Protocol

from facelens.store.contract.access import AccessStore
from facelens.store.contract.clusters import ClusterStore
from facelens.store.contract.gallery import GalleryStore
from facelens.store.contract.privacy import PrivacyStore

#: The area protocols ``MetadataStore`` combines (the contract tests cover each one's methods).
AREAS = (GalleryStore, PrivacyStore, AccessStore, ClusterStore)


class MetadataStore(GalleryStore, PrivacyStore, AccessStore, ClusterStore, Protocol):
    """Everything a backend provides: the gallery, privacy, access and clustering areas."""


__all__ = [
    "AREAS",
    "AccessStore",
    "ClusterStore",
    "GalleryStore",
    "MetadataStore",
    "PrivacyStore",
]
