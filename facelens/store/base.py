"""The metadata store contract and the registry of backends. The store is the source of
truth: the index is derived from it and can always be rebuilt from ``embeddings()``.

The contract is split by area (``facelens.store.contract``): ``GalleryStore``,
``PrivacyStore`` and ``AccessStore``, combined in ``MetadataStore``. Every backend (SQLite now,
PostgreSQL later) implements ``MetadataStore`` and passes the same tests (``tests/test_store*.py``
are parametrised over ``available_stores()``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from facelens.config import Settings
from facelens.registry import Registry
from facelens.security.crypto import TemplateCipher
from facelens.store.contract import AccessStore, GalleryStore, MetadataStore, PrivacyStore
from facelens.store.records import (
    AddedImage,
    ErasedFaces,
    FaceRecord,
    ImageRecord,
    NewImage,
    PersonRejection,
    StoreCounts,
)

__all__ = [
    "STORES",
    "AccessStore",
    "AddedImage",
    "ErasedFaces",
    "FaceRecord",
    "GalleryStore",
    "ImageRecord",
    "MetadataStore",
    "MigrationGuard",
    "NewImage",
    "PersonRejection",
    "PrivacyStore",
    "StoreCounts",
    "StoreFactory",
    "available_stores",
    "create_store",
    "register_store",
]

#: Called around a schema migration, which must have the data folder alone (the engine's
#: exclusive folder lock): a process of an older version must not go on using the new schema.
MigrationGuard = Callable[[], AbstractContextManager[None]]


class StoreFactory(Protocol):
    def __call__(
        self, settings: Settings, cipher: TemplateCipher, *, guard: MigrationGuard | None = None
    ) -> MetadataStore: ...


STORES: Registry[StoreFactory] = Registry("store backend")


def register_store(name: str, factory: StoreFactory) -> None:
    STORES.register(name, factory)


def create_store(
    settings: Settings, cipher: TemplateCipher, *, guard: MigrationGuard | None = None
) -> MetadataStore:
    return STORES.get(settings.store_backend)(settings, cipher, guard=guard)


def available_stores() -> list[str]:
    return STORES.names()
