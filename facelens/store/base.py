"""The metadata store contract. The store is the source of truth: the index is derived from it
and can always be rebuilt from ``embeddings()``.

Every backend (SQLite now, PostgreSQL later) implements ``MetadataStore`` and passes the same
tests (``tests/test_store.py`` is parametrised over ``available_stores()``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from facelens.audit import AuditEntry
from facelens.config import Settings
from facelens.registry import Registry
from facelens.types import (
    Account,
    Box,
    FloatArray,
    IdArray,
    ImageAnalysis,
    ModelId,
    Person,
    Provenance,
    SearchRecord,
)


@dataclass(frozen=True, slots=True)
class AddedImage:
    image_id: int
    face_ids: IdArray  # ids of the accepted faces, in the order of ``vectors``
    vectors: FloatArray  # (n, dim) float32


@dataclass(frozen=True, slots=True)
class FaceRecord:
    """What a search result shows about a gallery face."""

    face_id: int
    box: Box
    image_id: int
    image_location: str
    collection: str
    person_id: int | None
    person_name: str | None
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """A stored image: where it came from and its accepted faces."""

    image_id: int
    collection: str
    location: str
    sha256: str
    width: int
    height: int
    provenance: Provenance
    ingested_at: datetime
    face_ids: list[int]


@dataclass(frozen=True, slots=True)
class StoreCounts:
    collections: int
    images: int
    faces_accepted: int
    faces_rejected: int
    persons: int


class MetadataStore(Protocol):
    """Collections, images with provenance, faces with embeddings, persons."""

    backend: str

    def close(self) -> None: ...

    # collections
    def ensure_collection(self, name: str) -> int: ...
    def collection_names(self) -> list[str]: ...

    # images and faces
    def known_image_hashes(self, collection: str) -> set[str]: ...
    def add_image(
        self,
        *,
        collection: str,
        location: str,
        sha256: str,
        analysis: ImageAnalysis,
        provenance: Provenance,
    ) -> AddedImage | None:
        """Store an image and all its faces in one transaction; ``None`` if the collection
        already holds an image with this sha256."""
        ...

    def image_face_ids(self, collection: str, sha256: str) -> IdArray:
        """Accepted face ids of the image with this content in ``collection`` (largest first),
        empty when there is no such image."""
        ...

    def face_records(self, face_ids: Sequence[int]) -> dict[int, FaceRecord]: ...
    def images(
        self, collection: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[ImageRecord]:
        """Oldest first; raises ``NotFoundError`` for an unknown collection."""
        ...

    def image_record(self, image_id: int) -> ImageRecord: ...
    def collection_counts(self, name: str) -> tuple[int, int]:
        """Images and accepted faces in the collection; ``NotFoundError`` when unknown."""
        ...

    def accepted_face_ids(
        self, *, image_id: int | None = None, person_id: int | None = None
    ) -> list[int]: ...
    def indexed_face_ids(self, model: ModelId) -> IdArray:
        """Ids of the accepted faces embedded by ``model``, ascending."""
        ...

    def embeddings(
        self, model: ModelId, *, face_ids: Sequence[int] | None = None, batch_size: int = 10_000
    ) -> Iterator[tuple[IdArray, FloatArray]]:
        """Accepted faces of ``model`` (all, or those in ``face_ids``) in batches."""
        ...

    def face_ids_in_collections(self, names: Sequence[str], model: ModelId) -> IdArray: ...

    # deletion: each returns the ids of the accepted (indexed) faces it removed
    def delete_images(self, image_ids: Sequence[int]) -> IdArray: ...
    def delete_faces(self, face_ids: Sequence[int]) -> IdArray: ...
    def delete_person(self, person_id: int) -> IdArray: ...
    def delete_collection(self, name: str) -> IdArray: ...

    # persons
    def get_or_create_person(self, name: str) -> int: ...
    def assign_faces(self, person_id: int, face_ids: Sequence[int]) -> None: ...
    def persons(self) -> list[Person]: ...
    def rename_person(self, person_id: int, name: str) -> None: ...
    def merge_persons(self, into_id: int, other_id: int) -> None:
        """Move ``other_id``'s faces to ``into_id`` and delete ``other_id``."""
        ...

    # accounts and the search log
    def create_account(self, name: str, role: str, key_hash: str) -> Account:
        """Raises ``ConflictError`` when the name is taken."""
        ...

    def account_with_key_hash(self, account_id: int) -> tuple[Account, str] | None: ...
    def accounts(self) -> list[Account]: ...
    def log_search(self, record: SearchRecord) -> int: ...
    def search_log(self, account_id: int | None = None, limit: int = 100) -> list[SearchRecord]:
        """Newest first; one account's searches, or everyone's."""
        ...

    # the audit log
    def append_audit(
        self, actor: str, action: str, subject: str, details: dict[str, Any]
    ) -> AuditEntry:
        """Append an entry chained to the last one (appends are serialised)."""
        ...

    def audit_entries(self, after_id: int = 0, limit: int | None = None) -> list[AuditEntry]: ...

    # engine-wide facts
    def counts(self) -> StoreCounts: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...


StoreFactory = Callable[[Settings], MetadataStore]
STORES: Registry[StoreFactory] = Registry("store backend")


def register_store(name: str, factory: StoreFactory) -> None:
    STORES.register(name, factory)


def create_store(settings: Settings) -> MetadataStore:
    return STORES.get(settings.store_backend)(settings)


def available_stores() -> list[str]:
    return STORES.names()
