"""The privacy part of the store contract: consent records, subject requests, erasure and the
suppression (opt-out) list, retention queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from facelens.store.records import ErasedFaces
from facelens.types import Consent, FloatArray, SubjectRequest


class PrivacyStore(Protocol):
    """What the store keeps so that subjects' rights can be honoured."""

    # --- consent registry -------------------------------------------------------------------

    def add_consent(
        self,
        *,
        subject_ref: str,
        purpose: str,
        scope: Sequence[str],
        given_at: datetime,
        expires_at: datetime | None,
        evidence_ref: str,
    ) -> Consent:
        """Record a consent (last interaction: when it was given); ``InvalidArgumentError`` for
        impossible dates, ``NotFoundError`` for an unknown collection in ``scope``."""
        ...

    def consent(self, consent_id: int) -> Consent:
        """The consent record; ``NotFoundError`` when unknown."""
        ...

    def consents(self) -> list[Consent]:
        """Every consent record, oldest first."""
        ...

    def update_consent(
        self,
        consent_id: int,
        *,
        person_id: int | None = None,
        last_interaction_at: datetime | None = None,
        withdrawn_at: datetime | None = None,
    ) -> None:
        """Set the fields given (``None`` leaves a field as it is)."""
        ...

    def set_face_consent(self, face_ids: Sequence[int], consent_id: int) -> None:
        """Link the faces to the consent record they were collected under."""
        ...

    def consent_face_ids(self, consent_id: int) -> list[int]:
        """Ids of the faces linked to the consent record."""
        ...

    # --- subject requests -------------------------------------------------------------------

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
        its candidate faces (face id, similarity), all undecided; completed at once unless
        ``status`` is ``"pending"``."""
        ...

    def add_subject_request_candidates(
        self, request_id: int, candidates: Sequence[tuple[int, float]]
    ) -> None:
        """Add undecided candidates (face id, similarity) and count them in ``faces_found``."""
        ...

    def subject_request_candidates(self, request_id: int) -> list[tuple[int, float, str]]:
        """(face id, similarity, decision) of every candidate, best first."""
        ...

    def decide_subject_request(
        self,
        request_id: int,
        decisions: dict[int, str],
        decided_by: str,
        outcome: dict[str, Any] | None,
    ) -> None:
        """Record decisions (face id: decision); with ``outcome`` (request fields), complete the
        request and drop its templates."""
        ...

    def subject_request(self, request_id: int) -> tuple[SubjectRequest, FloatArray | None]:
        """The request and, while it is pending, the requester's templates (k, dim);
        ``NotFoundError`` when unknown."""
        ...

    def subject_requests(self, since: datetime | None = None) -> list[SubjectRequest]:
        """Every request (or those made at or after ``since``), oldest first."""
        ...

    # --- erasure and the suppression list -----------------------------------------------------

    def erase_faces(
        self,
        face_ids: Sequence[int],
        *,
        suppress: FloatArray | None = None,
        request_id: int | None = None,
        request_outcome: dict[str, Any] | None = None,
    ) -> ErasedFaces:
        """Delete faces (unknown ids are skipped) and images left with none, add ``suppress``
        ((dim,) or (k, dim)) to the suppression list and complete the subject request with
        ``request_outcome`` and the counts erased, all in one transaction."""
        ...

    def suppression_templates(self) -> list[FloatArray]:
        """Each opted-out person's templates, (k, dim) float32 each (opened)."""
        ...

    def suppression_count(self) -> int:
        """How many templates the suppression list holds (one person may have several)."""
        ...

    # --- retention --------------------------------------------------------------------------

    def images_ingested_before(self, collection: str, cutoff: datetime) -> list[int]:
        """Ids of the collection's images ingested before ``cutoff`` (retention expiry);
        ``NotFoundError`` for an unknown collection."""
        ...
