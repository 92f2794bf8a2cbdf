"""Constants and conversions from database rows to the store's values, shared by the parts of
the SQL store."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import numpy as np

from facelens.privacy.policy import CollectionPolicy, LegalBasis
from facelens.store.records import ErasedFaces
from facelens.store.schema import AccountRow, CollectionRow, ConsentRow, ImageRow, SubjectRequestRow
from facelens.types import Account, Consent, IdArray, Provenance, SubjectRequest

#: Face ids (a JSON list) whose stored template was found not to open: kept out of the index
#: and search, listed by stats and doctor, deletable. Computed where templates are opened, so
#: the schema needs no column for it.
QUARANTINE_META = "quarantined_faces"
#: Raised by the database's own triggers (migration 0011) whenever faces or their templates
#: change, and by the store when the quarantine changes: which faces are indexed then moves.
GENERATION_META = "gallery_generation"
#: "1" once a sweep for plain names, landmarks and locations left none (``seal_identifying_data``).
IDENTIFYING_SEALED_META = "identifying_data_sealed"
ACCEPTED = "accepted"
REJECTED = "rejected"
# SQLite's default limit on bound parameters is 32766; stay well below it per IN (...) clause.
_CHUNK = 5_000


def _ids(values: Sequence[int] | IdArray) -> IdArray:
    return np.asarray(sorted(int(v) for v in values), dtype=np.int64)


def _chunks(values: Sequence[int]) -> Iterator[list[int]]:
    items = [int(v) for v in values]
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _erased(face_ids: Sequence[int], gone: list[tuple[int, str]]) -> ErasedFaces:
    return ErasedFaces(
        face_ids=_ids(face_ids),
        image_ids=[i for i, _ in gone],
        image_locations=[loc for _, loc in gone],
    )


def _set_policy(row: CollectionRow, policy: CollectionPolicy) -> None:
    row.basis = policy.basis.value
    row.basis_text = policy.basis_text
    row.jurisdictions = list(policy.jurisdictions)
    row.purpose = policy.purpose
    row.retention_days = policy.retention_days
    row.seal_locations = policy.seal_locations


def _policy(row: CollectionRow) -> CollectionPolicy | None:
    if row.basis is None or row.purpose is None or row.retention_days is None:
        return None  # made before legal bases were recorded: declare one before ingesting
    return CollectionPolicy(
        basis=LegalBasis(row.basis),
        jurisdictions=list(row.jurisdictions),
        purpose=row.purpose,
        retention_days=row.retention_days,
        basis_text=row.basis_text,
        seal_locations=row.seal_locations,
    )


def _utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _provenance(image: ImageRow) -> Provenance:
    return Provenance(
        origin_url=image.origin_url,
        page_url=image.page_url,
        captured_at=image.captured_at,
        licence_ref=image.licence_ref,
        fetched_at=image.fetched_at,
    )


def _account(row: AccountRow) -> Account:
    return Account(
        id=row.id, name=row.name, role=row.role, created_at=row.created_at,
        disabled=row.disabled, jurisdiction=row.jurisdiction,
    )  # fmt: skip


def _consent(row: ConsentRow) -> Consent:
    return Consent(
        id=row.id, subject_ref=row.subject_ref, purpose=row.purpose, scope=list(row.scope),
        given_at=_utc(row.given_at), expires_at=row.expires_at and _utc(row.expires_at),
        evidence_ref=row.evidence_ref, last_interaction_at=_utc(row.last_interaction_at),
        withdrawn_at=row.withdrawn_at and _utc(row.withdrawn_at), person_id=row.person_id,
    )  # fmt: skip


def _subject_request(row: SubjectRequestRow) -> SubjectRequest:
    return SubjectRequest(
        id=row.id, kind=row.kind, request_ref=row.request_ref, status=row.status,
        created_at=_utc(row.created_at), created_by=row.created_by,
        faces_found=row.faces_found, faces_erased=row.faces_erased,
        images_erased=row.images_erased,
        completed_at=row.completed_at and _utc(row.completed_at), confirmed_by=row.confirmed_by,
        photos=row.photos, threshold=row.threshold,
        expected_false_candidates=row.expected_false_candidates,
        gallery_faces=row.gallery_faces, faces_confirmed=row.faces_confirmed,
    )  # fmt: skip
