"""The metadata store contract. The store is the source of truth: the index is derived from it
and can always be rebuilt from ``embeddings()``.

Every backend (SQLite now, PostgreSQL later) implements ``MetadataStore`` and passes the same
tests (``tests/test_store.py`` is parametrised over ``available_stores()``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from facelens.config import Settings
from facelens.privacy.audit import AuditEntry, AuditKey
from facelens.privacy.policy import CollectionPolicy
from facelens.registry import Registry
from facelens.security.crypto import TemplateCipher
from facelens.types import (
    Account,
    Box,
    Consent,
    FloatArray,
    IdArray,
    ImageAnalysis,
    ModelId,
    Person,
    Provenance,
    SearchRecord,
    SubjectRequest,
)


@dataclass(frozen=True, slots=True)
class AddedImage:
    image_id: int
    face_ids: IdArray  # ids of the accepted faces, in the order of ``vectors``
    vectors: FloatArray  # (n, dim) float32


@dataclass(frozen=True, slots=True)
class ErasedFaces:
    """What a deletion removed: the indexed face ids, and the images left with no face."""

    face_ids: IdArray
    image_ids: list[int]
    image_locations: list[str]


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
    cipher: TemplateCipher  # seals every template the store writes
    audit_key: AuditKey | None  # MACs audit entries; None: plain SHA-256 (a log not yet keyed)

    def close(self) -> None: ...

    # collections and their legal basis
    def ensure_collection(self, name: str) -> int: ...
    def collection_names(self) -> list[str]: ...
    def create_collection(self, name: str, policy: CollectionPolicy) -> None:
        """Raises ``ConflictError`` when the name is taken."""
        ...

    def set_collection_policy(self, name: str, policy: CollectionPolicy) -> None: ...
    def collection_policy(self, name: str) -> CollectionPolicy | None:
        """``None`` for a collection made before legal bases were recorded."""
        ...

    def collection_policies(self) -> dict[str, CollectionPolicy | None]: ...

    # images and faces
    def known_image_hashes(self, collection: str) -> set[str]: ...
    def known_origin_urls(self, collection: str) -> set[str]:
        """The URLs the collection's images were fetched from (a manifest rerun skips them)."""
        ...

    def add_image(
        self,
        *,
        collection: str,
        location: str,
        sha256: str,
        analysis: ImageAnalysis,
        provenance: Provenance,
    ) -> AddedImage | None:
        """Store an image and all its faces in one transaction (the collection must exist);
        ``None`` if the collection already holds an image with this sha256."""
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
        """Accepted faces of ``model`` (all, or those in ``face_ids``) in batches. A template
        that does not open (damaged) is left out and quarantined, never an error."""
        ...

    def quarantined_face_ids(self) -> list[int]:
        """Faces whose stored template was found not to open (still in the store), ascending;
        ``indexed_face_ids`` leaves them out."""
        ...

    def scan_templates(self, model: ModelId) -> list[int]:
        """Open every stored template of ``model`` (quarantining those that do not open);
        returns the quarantined face ids."""
        ...

    def integrity_problems(self) -> list[str]:
        """What the database's own integrity check finds wrong (empty: nothing)."""
        ...

    def face_ids_in_collections(self, names: Sequence[str], model: ModelId) -> IdArray: ...

    def reseal_templates(self, old: TemplateCipher | None, new: TemplateCipher) -> int:
        """Re-seal every stored template with ``new`` in one transaction (key rotation), and
        the sealed names, landmarks and locations with it."""
        ...

    def seal_identifying_data(self) -> int:
        """Seal names, landmarks and (where the collection asks) locations still plain."""
        ...

    def face_landmarks(self, face_ids: Sequence[int]) -> dict[int, list[list[float]]]: ...

    # deletion: each says which indexed faces and which images it removed
    def delete_images(self, image_ids: Sequence[int]) -> ErasedFaces: ...
    def delete_faces(self, face_ids: Sequence[int]) -> ErasedFaces: ...
    def delete_person(self, person_id: int) -> ErasedFaces: ...
    def delete_collection(self, name: str) -> ErasedFaces: ...
    def erase_faces(
        self,
        face_ids: Sequence[int],
        *,
        suppress: FloatArray | None = None,
        request_id: int | None = None,
        request_outcome: dict[str, Any] | None = None,
    ) -> ErasedFaces:
        """Delete faces (and images left with none), add ``suppress`` to the suppression list
        and complete the subject request, all in one transaction."""
        ...

    def location_in_use(self, location: str) -> bool: ...
    def checkpoint(self) -> None:
        """Make deletions final on disk (no copy left in a write-ahead log)."""
        ...

    # persons
    def person_id(self, name: str) -> int | None:
        """Id of the person named ``name`` (names compare case- and space-insensitively)."""

    def get_or_create_person(self, name: str) -> int: ...
    def assign_faces(self, person_id: int, face_ids: Sequence[int]) -> None: ...
    def persons(self) -> list[Person]: ...
    def rename_person(self, person_id: int, name: str) -> None: ...
    def merge_persons(self, into_id: int, other_id: int) -> None:
        """Move ``other_id``'s faces to ``into_id`` and delete ``other_id``."""
        ...

    # consent registry
    def add_consent(
        self,
        *,
        subject_ref: str,
        purpose: str,
        scope: Sequence[str],
        given_at: datetime,
        expires_at: datetime | None,
        evidence_ref: str,
    ) -> Consent: ...
    def consent(self, consent_id: int) -> Consent: ...
    def consents(self) -> list[Consent]: ...
    def update_consent(
        self,
        consent_id: int,
        *,
        person_id: int | None = None,
        last_interaction_at: datetime | None = None,
        withdrawn_at: datetime | None = None,
    ) -> None: ...
    def set_face_consent(self, face_ids: Sequence[int], consent_id: int) -> None: ...
    def consent_face_ids(self, consent_id: int) -> list[int]: ...

    # subject requests and the suppression list
    def add_subject_request(
        self,
        *,
        kind: str,
        request_ref: str,
        created_by: str,
        status: str,
        faces_found: int,
        templates: FloatArray | None = None,
        candidates: Sequence[tuple[int, float]] = (),
        threshold: float | None = None,
        expected_false_candidates: float | None = None,
        gallery_faces: int = 0,
    ) -> SubjectRequest:
        """A request with the requester's templates (sealed, kept while it is pending) and
        its candidate faces (face id, similarity), all undecided."""

    def add_subject_request_candidates(
        self, request_id: int, candidates: Sequence[tuple[int, float]]
    ) -> None: ...
    def subject_request_candidates(self, request_id: int) -> list[tuple[int, float, str]]:
        """(face id, similarity, decision) of every candidate, best first."""

    def decide_subject_request(
        self,
        request_id: int,
        decisions: dict[int, str],
        decided_by: str,
        outcome: dict[str, Any] | None,
    ) -> None:
        """Record decisions; with ``outcome``, complete the request and drop its templates."""

    def subject_request(self, request_id: int) -> tuple[SubjectRequest, FloatArray | None]:
        """The request and, while it is pending, the requester's templates (k, dim)."""

    def subject_requests(self, since: datetime | None = None) -> list[SubjectRequest]: ...
    def suppression_templates(self) -> list[FloatArray]:
        """Each opted-out person's templates, (k, dim) each (opened)."""

    def suppression_count(self) -> int: ...

    # retention and reports
    def images_ingested_before(self, collection: str, cutoff: datetime) -> list[int]: ...
    def searches_by_purpose(self, since: datetime) -> dict[str, int]: ...

    # accounts and the search log
    def create_account(
        self, name: str, role: str, key_hash: str, jurisdiction: str | None = None
    ) -> Account:
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
    def key_audit_chain(self, folder_id: str, key: AuditKey) -> None:
        """Record (once) that entries from the next one on are MACed with ``key``, and the
        head they continue from; sets ``audit_key``."""
        ...

    # engine-wide facts
    def counts(self) -> StoreCounts: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...


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
