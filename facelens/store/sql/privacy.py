"""Consent records, subject requests, erasure with the suppression list, and retention."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from facelens.errors import NotFoundError
from facelens.privacy.policy import check_consent_dates
from facelens.store.records import ErasedFaces
from facelens.store.schema import (
    ConsentRow,
    FaceRow,
    ImageRow,
    SubjectRequestCandidateRow,
    SubjectRequestRow,
    SubjectRequestTemplateRow,
    SuppressionRow,
    utc_now,
)
from facelens.store.sql.deletion import Deletion
from facelens.store.sql.rows import ACCEPTED, _consent, _erased, _subject_request
from facelens.types import Consent, FloatArray, SubjectRequest


class Privacy(Deletion):
    """The records that subjects' rights are honoured with."""

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
        check_consent_dates(given_at, expires_at)  # here, so the CLI and the API both refuse
        with self._session.begin() as session:
            for name in scope:
                self._collection_id(session, name)
            row = ConsentRow(
                subject_ref=subject_ref, purpose=purpose, scope=list(scope), given_at=given_at,
                expires_at=expires_at, evidence_ref=evidence_ref, last_interaction_at=given_at,
            )  # fmt: skip
            session.add(row)
            session.flush()
            return _consent(row)

    def consent(self, consent_id: int) -> Consent:
        with self._session() as session:
            row = session.get(ConsentRow, consent_id)
            if row is None:
                raise NotFoundError(f"no consent record with id {consent_id}")
            return _consent(row)

    def consents(self) -> list[Consent]:
        with self._session() as session:
            return [
                _consent(r) for r in session.scalars(select(ConsentRow).order_by(ConsentRow.id))
            ]

    def update_consent(
        self,
        consent_id: int,
        *,
        person_id: int | None = None,
        last_interaction_at: datetime | None = None,
        withdrawn_at: datetime | None = None,
    ) -> None:
        values: dict[str, Any] = {}
        if person_id is not None:
            values["person_id"] = person_id
        if last_interaction_at is not None:
            values["last_interaction_at"] = last_interaction_at
        if withdrawn_at is not None:
            values["withdrawn_at"] = withdrawn_at
        with self._session.begin() as session:
            session.execute(update(ConsentRow).where(ConsentRow.id == consent_id).values(**values))

    def set_face_consent(self, face_ids: Sequence[int], consent_id: int) -> None:
        with self._session.begin() as session:
            session.execute(
                update(FaceRow).where(FaceRow.id.in_(list(face_ids))).values(consent_id=consent_id)
            )

    def consent_face_ids(self, consent_id: int) -> list[int]:
        with self._session() as session:
            return list(session.scalars(select(FaceRow.id).where(FaceRow.consent_id == consent_id)))

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
        with self._session.begin() as session:
            row = SubjectRequestRow(
                kind=kind, request_ref=request_ref, created_by=created_by, status=status,
                faces_found=faces_found, faces_erased=0, images_erased=0,
                completed_at=None if status == "pending" else utc_now(), template=None,
                photos=0 if templates is None else len(templates), threshold=threshold,
                expected_false_candidates=expected_false_candidates,
                gallery_faces=gallery_faces, faces_confirmed=0,
            )  # fmt: skip
            session.add(row)
            session.flush()
            for template in [] if templates is None else templates:
                session.add(
                    SubjectRequestTemplateRow(
                        request_id=row.id, template=self.cipher.seal_vector(template)
                    )
                )
            self._add_candidates(session, row.id, candidates)
            return _subject_request(row)

    @staticmethod
    def _add_candidates(
        session: Session, request_id: int, candidates: Sequence[tuple[int, float]]
    ) -> None:
        for face_id, similarity in candidates:
            session.add(
                SubjectRequestCandidateRow(
                    request_id=request_id, face_id=int(face_id), similarity=float(similarity),
                    decision="pending",
                )
            )  # fmt: skip

    def add_subject_request_candidates(
        self, request_id: int, candidates: Sequence[tuple[int, float]]
    ) -> None:
        with self._session.begin() as session:
            self._add_candidates(session, request_id, candidates)
            row = session.get(SubjectRequestRow, request_id)
            assert row is not None
            row.faces_found += len(candidates)

    def subject_request_candidates(self, request_id: int) -> list[tuple[int, float, str]]:
        """(face id, similarity, decision) of every candidate, best first."""
        query = (
            select(
                SubjectRequestCandidateRow.face_id,
                SubjectRequestCandidateRow.similarity,
                SubjectRequestCandidateRow.decision,
            )
            .where(SubjectRequestCandidateRow.request_id == request_id)
            .order_by(SubjectRequestCandidateRow.similarity.desc())
        )
        with self._session() as session:
            return [(int(f), float(s), str(d)) for f, s, d in session.execute(query)]

    def decide_subject_request(
        self,
        request_id: int,
        decisions: dict[int, str],
        decided_by: str,
        outcome: dict[str, Any] | None,
    ) -> None:
        """Record the admin's decision on each candidate; with ``outcome``, also complete the
        request and drop the requester's templates (an erasure completes in ``erase_faces``)."""
        now = utc_now()
        with self._session.begin() as session:
            for face_id, decision in decisions.items():
                session.execute(
                    update(SubjectRequestCandidateRow)
                    .where(
                        SubjectRequestCandidateRow.request_id == request_id,
                        SubjectRequestCandidateRow.face_id == face_id,
                    )
                    .values(decision=decision, decided_by=decided_by, decided_at=now)
                )
            if outcome is not None:
                self._complete_request(session, request_id, outcome)

    @staticmethod
    def _complete_request(session: Session, request_id: int, outcome: dict[str, Any]) -> None:
        session.execute(
            update(SubjectRequestRow)
            .where(SubjectRequestRow.id == request_id)
            .values(template=None, **outcome)
        )
        session.execute(
            delete(SubjectRequestTemplateRow).where(
                SubjectRequestTemplateRow.request_id == request_id
            )
        )

    def subject_request(self, request_id: int) -> tuple[SubjectRequest, FloatArray | None]:
        """The request and, while it is pending, the requester's templates (k, dim)."""
        with self._session() as session:
            row = session.get(SubjectRequestRow, request_id)
            if row is None:
                raise NotFoundError(f"no subject request with id {request_id}")
            blobs = list(
                session.scalars(
                    select(SubjectRequestTemplateRow.template)
                    .where(SubjectRequestTemplateRow.request_id == request_id)
                    .order_by(SubjectRequestTemplateRow.id)
                )
            )
            if row.template is not None:  # a pending erasure from before 0006
                blobs.append(row.template)
            templates = np.stack([self.cipher.open_vector(b) for b in blobs]) if blobs else None
            return _subject_request(row), templates

    def subject_requests(self, since: datetime | None = None) -> list[SubjectRequest]:
        query = select(SubjectRequestRow).order_by(SubjectRequestRow.id)
        if since is not None:
            query = query.where(SubjectRequestRow.created_at >= since)
        with self._session() as session:
            return [_subject_request(r) for r in session.scalars(query)]

    def erase_faces(
        self,
        face_ids: Sequence[int],
        *,
        suppress: FloatArray | None = None,
        request_id: int | None = None,
        request_outcome: dict[str, Any] | None = None,
    ) -> ErasedFaces:
        """Delete faces (and images left with none) and, in the same transaction, add a
        template to the suppression list and complete a subject request: all or nothing."""
        with self._session.begin() as session:
            rows = session.execute(
                select(FaceRow.id, FaceRow.status).where(FaceRow.id.in_(list(face_ids)))
            ).all()
            gone = self._delete_faces_and_empty_images(session, [r[0] for r in rows])
            for template in [] if suppress is None else np.atleast_2d(suppress):
                session.add(
                    SuppressionRow(
                        request_id=request_id, template=self.cipher.seal_vector(template)
                    )
                )
            if request_id is not None:
                values = dict(request_outcome or {})
                values.update(faces_erased=len(rows), images_erased=len(gone))
                self._complete_request(session, request_id, values)
        return _erased([r[0] for r in rows if r[1] == ACCEPTED], gone)

    def suppression_templates(self) -> list[FloatArray]:
        """Each opted-out person's templates, (k, dim) float32 each: the photos of one
        erasure request together (opened; keep them in memory only)."""
        with self._session() as session:
            rows = session.execute(
                select(SuppressionRow.id, SuppressionRow.request_id, SuppressionRow.template)
            ).all()
        people: dict[tuple[str, int], list[FloatArray]] = {}
        for row_id, request_id, blob in sorted(rows):
            person = ("request", request_id) if request_id is not None else ("row", row_id)
            people.setdefault(person, []).append(self.cipher.open_vector(blob))
        return [np.stack(templates) for templates in people.values()]

    def suppression_count(self) -> int:
        with self._session() as session:
            return session.scalar(select(func.count()).select_from(SuppressionRow)) or 0

    def images_ingested_before(self, collection: str, cutoff: datetime) -> list[int]:
        with self._session() as session:
            collection_id = self._collection_id(session, collection)
            return list(
                session.scalars(
                    select(ImageRow.id).where(
                        ImageRow.collection_id == collection_id,
                        ImageRow.ingested_at < cutoff.astimezone(UTC).replace(tzinfo=None),
                    )
                )
            )
