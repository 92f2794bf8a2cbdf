"""Response models of the HTTP API: what each JSON route returns, field by field.

``RESPONSE_MODELS`` maps (method, route path as declared) to the model of the route's JSON
body, for ``response_model=``. Routes that answer something else (JPEGs, the metrics text, the
redirect to the web interface) are not in it. ``GET /subject-requests/{request_id}/report``
answers JSON, or a zip with ``export``: its model is that of the JSON.

Every model forbids fields it does not name. Times are ISO 8601 strings with their UTC offset,
boxes ``xyxy`` pixels, similarities cosine in [-1, 1].
"""

from __future__ import annotations

from typing import Any

from facelens.api.schemas.accounts import (
    AccountOut,
    AuditCheckOut,
    AuditEntryOut,
    CheckpointOut,
    HealthOut,
    NewAccountOut,
    ReadyOut,
    SessionOut,
    SettingsOut,
    SignedInOut,
    SignedOutOut,
)
from facelens.api.schemas.collections import (
    CollectionOut,
    CollectionPolicyOut,
    FaceOut,
    ImageOut,
    IngestFailureOut,
    IngestJobOut,
    IngestReportOut,
    PolicyOut,
    UploadFailureOut,
    UploadFileOut,
    UploadOutcomeOut,
    UploadReportOut,
)
from facelens.api.schemas.common import (
    BoxOut,
    FacesRemovedOut,
    IsoTime,
    ModelIdOut,
    Out,
    ProvenanceOut,
)
from facelens.api.schemas.people import ClusterSummaryOut, ProposalOut
from facelens.api.schemas.persons import (
    PersonOut,
    PersonReferencesOut,
    ReferenceCheckOut,
    RejectionOut,
    SplitOut,
)
from facelens.api.schemas.privacy import (
    AccessReportOut,
    CandidateOut,
    ConsentOut,
    HeldFaceOut,
    MatchRuleOut,
    RequestReviewOut,
    RetentionReportOut,
    SubjectRequestOut,
    TransparencyReportOut,
    WithdrawalOut,
)
from facelens.api.schemas.search import (
    BatchSearchSummaryOut,
    MatchOut,
    PersonCandidateOut,
    PersonSearchOut,
    ProbeErrorOut,
    ProbeFaceOut,
    ProbeOutcomeOut,
    RejectedFaceOut,
    SearchJobOut,
    SearchOut,
    SearchRecordOut,
    VerificationOut,
)

#: (HTTP method, route path as declared) -> the model of the JSON the route answers.
RESPONSE_MODELS: dict[tuple[str, str], Any] = {
    # health
    ("GET", "/healthz"): HealthOut,
    ("GET", "/readyz"): ReadyOut,
    # web sessions
    ("POST", "/session"): SignedInOut,
    ("GET", "/session"): SessionOut,
    ("DELETE", "/session"): SignedOutOut,
    # audit
    ("GET", "/audit"): list[AuditEntryOut],
    ("GET", "/audit/verify"): AuditCheckOut,
    ("GET", "/audit/checkpoint"): CheckpointOut,
    # accounts and settings
    ("POST", "/accounts"): NewAccountOut,
    ("GET", "/accounts"): list[AccountOut],
    ("GET", "/settings"): SettingsOut,
    # collections
    ("GET", "/collections"): list[str],
    ("POST", "/collections"): CollectionPolicyOut,
    ("PUT", "/collections/{name}/policy"): CollectionPolicyOut,
    ("GET", "/collections/{name}"): CollectionOut,
    ("DELETE", "/collections/{name}"): FacesRemovedOut,
    # images and ingest
    ("POST", "/collections/{name}/images"): UploadReportOut,
    ("GET", "/collections/{name}/images"): list[ImageOut],
    ("GET", "/images/{image_id}"): ImageOut,
    ("DELETE", "/images/{image_id}"): FacesRemovedOut,
    ("POST", "/jobs/ingest"): IngestJobOut,
    ("GET", "/jobs/{job_id}"): IngestJobOut,
    # persons
    ("GET", "/persons"): list[PersonOut],
    ("POST", "/persons"): PersonOut,
    ("PATCH", "/persons/{person_id}"): PersonOut,
    ("POST", "/persons/{person_id}/faces"): PersonOut,
    ("POST", "/persons/{person_id}/merge"): PersonOut,
    ("POST", "/persons/{person_id}/split"): SplitOut,
    ("GET", "/persons/{person_id}/rejections"): list[RejectionOut],
    ("POST", "/persons/{person_id}/rejections"): RejectionOut,
    ("POST", "/persons/{person_id}/rejections/{face_id}/withdraw"): RejectionOut,
    ("GET", "/persons/{person_id}/references"): PersonReferencesOut,
    ("DELETE", "/persons/{person_id}"): FacesRemovedOut,
    ("POST", "/collections/{name}/enrolments"): PersonOut,
    # proposed persons (clustering)
    ("POST", "/clusterings"): ClusterSummaryOut,
    ("GET", "/proposals"): list[ProposalOut],
    ("POST", "/proposals/{cluster_id}/accept"): PersonOut,
    ("POST", "/proposals/{cluster_id}/dismiss"): ProposalOut,
    # faces
    ("GET", "/faces"): list[FaceOut],
    ("GET", "/faces/{face_id}"): FaceOut,
    ("DELETE", "/faces/{face_id}"): FacesRemovedOut,
    # search and verification
    ("POST", "/searches"): SearchOut,
    ("GET", "/searches"): list[SearchRecordOut],
    ("POST", "/persons/{person_id}/searches"): PersonSearchOut,
    ("POST", "/verifications"): VerificationOut,
    ("POST", "/jobs/search"): SearchJobOut,
    ("GET", "/jobs/search/{job_id}"): SearchJobOut,
    # consent
    ("POST", "/consents"): ConsentOut,
    ("GET", "/consents"): list[ConsentOut],
    ("POST", "/consents/{consent_id}/withdraw"): WithdrawalOut,
    # data subject requests
    ("POST", "/subject-requests/access"): RequestReviewOut,
    ("POST", "/subject-requests/erasure"): RequestReviewOut,
    ("GET", "/subject-requests/{request_id}"): RequestReviewOut,
    ("POST", "/subject-requests/{request_id}/confirm"): SubjectRequestOut,
    ("GET", "/subject-requests/{request_id}/report"): AccessReportOut,
    ("GET", "/subject-requests"): list[SubjectRequestOut],
    # retention and reports
    ("POST", "/retention/runs"): RetentionReportOut,
    ("GET", "/reports/transparency"): TransparencyReportOut,
}

__all__ = [
    "RESPONSE_MODELS",
    "AccessReportOut",
    "AccountOut",
    "AuditCheckOut",
    "AuditEntryOut",
    "BatchSearchSummaryOut",
    "BoxOut",
    "CandidateOut",
    "CheckpointOut",
    "ClusterSummaryOut",
    "CollectionOut",
    "CollectionPolicyOut",
    "ConsentOut",
    "FaceOut",
    "FacesRemovedOut",
    "HealthOut",
    "HeldFaceOut",
    "ImageOut",
    "IngestFailureOut",
    "IngestJobOut",
    "IngestReportOut",
    "IsoTime",
    "MatchOut",
    "MatchRuleOut",
    "ModelIdOut",
    "NewAccountOut",
    "Out",
    "PersonCandidateOut",
    "PersonOut",
    "PersonReferencesOut",
    "PersonSearchOut",
    "PolicyOut",
    "ProbeErrorOut",
    "ProbeFaceOut",
    "ProbeOutcomeOut",
    "ProposalOut",
    "ProvenanceOut",
    "ReadyOut",
    "ReferenceCheckOut",
    "RejectedFaceOut",
    "RejectionOut",
    "RequestReviewOut",
    "RetentionReportOut",
    "SearchJobOut",
    "SearchOut",
    "SearchRecordOut",
    "SessionOut",
    "SettingsOut",
    "SignedInOut",
    "SignedOutOut",
    "SplitOut",
    "SubjectRequestOut",
    "TransparencyReportOut",
    "UploadFailureOut",
    "UploadFileOut",
    "UploadOutcomeOut",
    "UploadReportOut",
    "VerificationOut",
    "WithdrawalOut",
]
