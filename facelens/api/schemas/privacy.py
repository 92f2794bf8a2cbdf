"""Consent, data subject requests, retention and the transparency report."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from facelens.api.schemas.common import IsoTime, Out

# --- consent ----------------------------------------------------------------------------------


class ConsentOut(Out):
    """A subject's consent to biometric processing, and the evidence for it."""

    id: int
    subject_ref: str = Field(description="The operator's reference for the subject.")
    purpose: str
    scope: list[str] = Field(description="Collections the consent covers.")
    given_at: IsoTime = Field(description="UTC.")
    expires_at: IsoTime | None = Field(description="UTC; null: no end.")
    evidence_ref: str = Field(description="Where the signed consent is kept.")
    last_interaction_at: IsoTime = Field(description="UTC.")
    withdrawn_at: IsoTime | None = Field(description="UTC; null: not withdrawn.")
    person_id: int | None = Field(description="The person enrolled under it, or null.")


class WithdrawalOut(Out):
    faces_erased: list[int] = Field(description="Faces enrolled under the consent, erased.")
    images_erased: list[int] = Field(description="Images left without a face, erased.")


# --- data subject requests --------------------------------------------------------------------


class SubjectRequestOut(Out):
    """A data subject's access or erasure request, and what came of it."""

    id: int
    kind: Literal["access", "erasure"]
    request_ref: str = Field(description="The operator's reference for the request.")
    status: Literal["pending", "completed", "no_match"] = Field(
        description="pending: awaiting an admin's review and confirmation."
    )
    created_at: IsoTime = Field(description="UTC.")
    created_by: str = Field(description="The actor who opened it.")
    faces_found: int = Field(description="Candidates found.")
    faces_erased: int
    images_erased: int
    completed_at: IsoTime | None = Field(description="UTC; null while pending.")
    confirmed_by: str | None = Field(description="The admin who confirmed, or null.")
    photos: int = Field(description="Photos of the requester the request was made with.")
    threshold: float | None = Field(
        description="The calibrated rule's cosine threshold; null for requests before it."
    )
    expected_false_candidates: float | None = Field(
        description="Strangers the rule expects to propose; null for requests before it."
    )
    gallery_faces: int = Field(description="Faces held when the request was made.")
    faces_confirmed: int = Field(description="Candidates an admin confirmed as the requester's.")


class MatchRuleOut(Out):
    """The threshold the candidates were found with, and what it costs in strangers."""

    threshold: float = Field(description="Cosine similarity in [-1, 1].")
    gallery_faces: int
    photos: int
    expected_false_candidates: float
    fmr_measured: bool = Field(
        description="False: the false match rate here is the table's extrapolation."
    )
    basis: str = Field(description="The match table the rule comes from.")


class HeldFaceOut(Out):
    """A face held that may be the requester's: its source, why it is held, the decision."""

    face_id: int
    similarity: float = Field(description="Cosine similarity to the requester, in [-1, 1].")
    decision: Literal["pending", "confirmed", "rejected"]
    collection: str
    legal_basis: str | None = Field(description="The collection's legal basis, or null.")
    purpose: str | None
    retention_days: int | None
    image_id: int
    image_location: str
    origin_url: str | None
    page_url: str | None
    licence_ref: str | None
    ingested_at: IsoTime = Field(description="UTC.")
    person_name: str | None


class CandidateOut(HeldFaceOut):
    crop_url: str = Field(
        description="/subject-requests/{request_id}/candidates/{face_id}/crop (JPEG)."
    )


class RequestReviewOut(Out):
    """A request with its rule and every candidate, for an admin to decide on."""

    request: SubjectRequestOut
    rule: MatchRuleOut | None = Field(description="Null for requests made before the rule.")
    candidates: list[CandidateOut]


class AccessReportOut(Out):
    """What is sent to the requester: only the faces an admin confirmed as theirs."""

    request: SubjectRequestOut
    threshold: float | None = Field(description="Cosine threshold of the request, or null.")
    faces: list[HeldFaceOut]


# --- retention and reports --------------------------------------------------------------------


class RetentionReportOut(Out):
    """What a retention run destroyed."""

    ran_at: IsoTime = Field(description="UTC.")
    images_deleted: int
    faces_deleted: int
    image_ids: list[int]
    face_ids: list[int]
    by_collection: dict[str, int] = Field(description="Images deleted, by collection.")
    consents_lapsed: list[int] = Field(description="Consents expired, withdrawn or idle.")
    failures: dict[str, str] = Field(description="Collections not run, with why.")


class TransparencyReportOut(Out):
    """Counts between since and until."""

    since: IsoTime = Field(description="UTC.")
    until: IsoTime = Field(description="UTC.")
    searches_by_purpose: dict[str, int]
    searches: int
    access_requests: dict[str, int] = Field(description="By outcome.")
    erasure_requests: dict[str, int] = Field(description="By outcome.")
    faces_erased_on_request: int
    consent_withdrawals: int
    retention_runs: int
    retention_images_deleted: int
    retention_faces_deleted: int
    refusals_by_rule: dict[str, int]
