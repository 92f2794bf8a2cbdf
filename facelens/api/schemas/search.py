"""Searches by photo and by person, their log, and verification of two photos."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from facelens.api.schemas.common import (
    BoxOut,
    IsoTime,
    ModelIdOut,
    Out,
    ProvenanceOut,
    SourceUrl,
    ThumbnailUrl,
)
from facelens.api.schemas.persons import PersonOut
from facelens.face_sizes import SMALL_FACE_PX

Similarity = Annotated[
    float, Field(description="Cosine similarity in [-1, 1]; higher is more alike.")
]
Threshold = Annotated[
    float, Field(description="Cosine similarity at and above which faces are the same person.")
]
FaceSize = Annotated[int, Field(description="Short side of the face's box, pixels.")]
SmallFace = Annotated[
    bool,
    Field(
        description=f"Under {SMALL_FACE_PX} px (short side): a match on it is weaker evidence, "
        "for a reviewer to weigh."
    ),
]
SearchId = Annotated[int, Field(description="The search's entry in the search log.")]


class MatchOut(Out):
    """One gallery face found, with links to its crop and source."""

    face_id: int
    similarity: Similarity
    is_match: bool = Field(
        description="The decision's score (decision.scores) is at or above its threshold."
    )
    box: BoxOut
    image_id: int
    image_location: str = Field(description="Path of the source image.")
    collection: str
    person_id: int | None
    person_name: str | None
    provenance: ProvenanceOut
    normalised_score: float | None = Field(
        description="The similarity in standard deviations above both faces' nearest "
        "strangers in a cohort of the gallery (AS-norm); null when the gallery is too small "
        "to normalise against."
    )
    size_px: FaceSize
    small_face: SmallFace
    thumbnail_url: ThumbnailUrl
    source_url: SourceUrl


class SearchDecisionOut(Out):
    """The rule that made candidates matches, and what it costs in strangers."""

    rule: Literal["calibrated", "fixed"] = Field(
        description="calibrated: the threshold measured on this gallery to hold target_fpir; "
        "fixed: a similarity threshold (given, or the engine's)."
    )
    scores: Literal["cohort_mean", "as_norm", "raw"] = Field(
        description="What the threshold compares: normalised scores or cosine similarity."
    )
    threshold: float
    target_fpir: float | None = Field(
        description="The share of searches for someone not in the gallery allowed a match."
    )
    estimated_fpir: float | None = Field(
        description="That share at this threshold, as the gallery's calibration measured it."
    )
    expected_false_candidates: float | None = Field(
        description="Strangers a search returns at or above the threshold, on average."
    )
    gallery_faces: int
    calibrated_gallery_faces: int | None = Field(
        description="Gallery faces when it was calibrated; null: never calibrated."
    )
    calibration_stale: bool = Field(
        description="The gallery changed by over a tenth since; the next ingest calibrates."
    )
    measured_fmr: float | None = Field(
        description="A fixed threshold's false match rate per comparison where it was "
        "measured (the default threshold, on LFW View 2); else null."
    )


class PersonCandidateOut(Out):
    """A per-person search's candidate: a person scored on all their faces, or a lone face."""

    similarity: Similarity = Field(description="Fused over the person's faces (person_fusion).")
    is_match: bool = Field(description="similarity >= threshold.")
    best: MatchOut = Field(description="The face that scored best, with its own similarity.")
    faces_compared: int = Field(description="The person's faces scored (1: a lone face).")
    person_id: int | None = Field(description="Null: a face no person holds.")
    person_name: str | None


class ProbeFaceOut(Out):
    """One face found in the probe photo and its matches, best first."""

    probe_box: BoxOut
    matches: list[MatchOut] = Field(
        description="Best first; in a per-person search, each candidate's best face."
    )
    probe_sha256: str = Field(description="SHA-256 of the probe face's embedding, hex.")
    candidates: list[PersonCandidateOut] = Field(
        description="Per-person searches: persons and lone faces, best first (else empty)."
    )
    probe_size_px: FaceSize
    probe_small_face: SmallFace


#: A clockwise turn of a photo, in degrees.
TurnDegrees = Literal[0, 90, 180, 270]


class RejectedFaceOut(Out):
    """A probe face too poor to search with."""

    size_px: int = Field(description="Short side of its box, pixels.")
    sharpness: float
    rejection_reason: str | None = Field(description="Why it was rejected.")


class SearchOut(Out):
    search_id: SearchId
    threshold: Threshold
    model: ModelIdOut
    faces: list[ProbeFaceOut] = Field(description="Every usable face of the probe, largest first.")
    faces_rejected: list[RejectedFaceOut]
    probe_turned_degrees: TurnDegrees = Field(
        description="How far the probe photo was turned, clockwise, for a face to be found "
        "(a sideways scan); 0 when it was upright. Boxes are on the photo as sent."
    )
    decision: SearchDecisionOut | None
    person_fusion: Literal["max", "quality_mean"] | None = Field(
        description="Per-person searches: how a person's faces were fused; null: per face."
    )
    fused_probe_sha256: list[str] = Field(
        description="same_person: the SHA-256 of each photo's face embedding, fused into one "
        "probe (empty otherwise)."
    )


class ProbeErrorOut(Out):
    """Why a probe of a search job has no search."""

    code: str = Field(description="The error's stable code (no_face_found, unsupported_image…).")
    message: str


class ProbeOutcomeOut(Out):
    """One probe of a search job: its search, or why it has none."""

    probe: str = Field(description="Its path, resolved, or as found under a folder named.")
    error: ProbeErrorOut | None = Field(description="Null when it was searched.")
    result: SearchOut | None = Field(description="Its search, logged; null when it failed.")


class BatchSearchSummaryOut(Out):
    """Every probe is searched, without a usable face, or failed (unreadable, refused)."""

    probes: int
    searched: int
    with_match: int = Field(description="Searched probes with a face at or above the threshold.")
    no_face: int
    failed: int


class SearchJobOut(Out):
    """A search with many server-side probe photos, running in the background."""

    job_id: int
    probes: list[str] = Field(description="The files and folders named, resolved.")
    purpose: str
    case_ref: str
    status: Literal["queued", "running", "done", "failed"]
    probes_total: int = Field(description="Probe photos found (0 until they are counted).")
    probes_done: int = Field(description="Probe photos analysed so far.")
    error: str | None = Field(description="Why the job failed, or null.")
    summary: BatchSearchSummaryOut = Field(description="Counts over the results so far.")
    results: list[ProbeOutcomeOut] = Field(description="One per probe done so far, in order.")


class PersonSearchOut(Out):
    """Gallery faces like the person's own (their mean), other than theirs, best first."""

    search_id: SearchId
    person: PersonOut
    threshold: Threshold
    model: ModelIdOut
    matches: list[MatchOut]
    query_sha256: str = Field(description="SHA-256 of the mean embedding searched with, hex.")


class SearchRecordOut(Out):
    """One logged search: who, why, over what, what was shown (never the probe)."""

    account_id: int
    account_name: str
    purpose: str
    case_ref: str
    collections: list[str] = Field(description="The collections searched (empty: all).")
    probe_faces: int = Field(description="Faces searched with.")
    results: int = Field(description="Faces shown.")
    matches: int = Field(description="Faces shown at or above the threshold.")
    threshold: Threshold
    searched_at: IsoTime = Field(description="UTC.")
    id: int
    probe_sha256: list[str] = Field(description="SHA-256 of each probe embedding, hex.")
    result_face_ids: list[int] = Field(description="The faces shown.")


class VerificationOut(Out):
    """Are the largest faces of two photos the same person?"""

    same_person: bool = Field(description="similarity >= threshold.")
    similarity: Similarity
    threshold: Threshold
    box_a: BoxOut = Field(description="The face compared in the first photo.")
    box_b: BoxOut = Field(description="The face compared in the second photo.")
    model: ModelIdOut
    turned_degrees_a: TurnDegrees = Field(
        description="How far the first photo was turned, clockwise, for its face to be found."
    )
    turned_degrees_b: TurnDegrees = Field(
        description="How far the second photo was turned, clockwise, for its face to be found."
    )
    measured_fmr: float | None = Field(
        description="The threshold's false match rate per comparison where it was measured "
        "(the default threshold, on LFW View 2); else null."
    )
