"""Value objects passed between the stages and returned by the public API.

Conventions: boxes are ``xyxy`` in pixels of the decoded, EXIF-rotated image (x to the right,
y down, x2/y2 exclusive); landmarks are ``(5, 2)`` float arrays of (x, y) in the same frame;
similarities are cosine similarities in [-1, 1] (higher is more alike).
"""

from __future__ import annotations

import dataclasses
import getpass
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from facelens.face_sizes import SMALL_FACE_PX
from facelens.ids import IdArray as IdArray
from facelens.ingest_report import IngestReport
from facelens.scoring.decision import SearchDecision as SearchDecision

if TYPE_CHECKING:  # it builds on Match
    from facelens.person_fusion import PersonCandidate

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class ModelId:
    """Identifies the model that produced an embedding; embeddings of different ids never mix."""

    name: str
    version: str
    dim: int

    def __str__(self) -> str:
        return f"{self.name}@{self.version}/{self.dim}"


@dataclass(frozen=True, slots=True)
class Box:
    """Face box, ``xyxy`` pixels."""

    x1: int
    y1: int
    x2: int
    y2: int

    def __post_init__(self) -> None:
        if self.x2 <= self.x1 or self.y2 <= self.y1:
            raise ValueError(f"empty box {self.as_tuple()}: expected x2 > x1 and y2 > y1")

    @property
    def width(self) -> int:
        return self.x2 - self.x1

    @property
    def height(self) -> int:
        return self.y2 - self.y1

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)

    @property
    def area(self) -> int:
        return self.width * self.height

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.x1, self.y1, self.x2, self.y2)


@dataclass(frozen=True, slots=True)
class Detection:
    """One face found by a detector.

    ``landmarks``, when the detector gives them, are the face's five points as a ``(5, 2)``
    float32 array of (x, y) in image pixels, in the order and with the meaning of dlib's
    5-point shape predictor: 0 and 1 the outer and inner corner of the eye on the image's
    right (the subject's left eye), 2 and 3 the outer and inner corner of the other eye, 4 the
    bottom of the nose between the nostrils. The aligner then uses them instead of predicting
    its own. Points that mean something else (MTCNN's and RetinaFace's eye centres, nose tip
    and mouth corners) are not these: a backend giving those maps them first, or gives none.
    """

    box: Box
    score: float
    detector: str
    landmarks: FloatArray | None = None

    def __post_init__(self) -> None:
        if self.landmarks is not None:
            points = np.asarray(self.landmarks, dtype=np.float32)
            if points.shape != (5, 2):
                raise ValueError(f"landmarks must be 5 (x, y) points, got shape {points.shape}")
            object.__setattr__(self, "landmarks", points)


@dataclass(frozen=True, slots=True)
class Embedding:
    """An L2-normalised face embedding and the model that made it."""

    vector: FloatArray
    model: ModelId

    def __post_init__(self) -> None:
        if self.vector.shape != (self.model.dim,) or self.vector.dtype != np.float32:
            raise ValueError(
                f"embedding of {self.model} must be float32 of shape ({self.model.dim},), "
                f"got {self.vector.dtype} {self.vector.shape}"
            )


@dataclass(frozen=True, slots=True)
class FaceQuality:
    size_px: int
    sharpness: float
    rejection_reason: str | None = None

    @property
    def accepted(self) -> bool:
        return self.rejection_reason is None


@dataclass(frozen=True, slots=True)
class AnalysedFace:
    """A detected face after alignment, quality checks and (if accepted) embedding."""

    detection: Detection
    landmarks: FloatArray
    quality: FaceQuality
    embedding: Embedding | None

    @property
    def box(self) -> Box:
        return self.detection.box

    @property
    def accepted(self) -> bool:
        return self.embedding is not None


@dataclass(frozen=True, slots=True)
class ImageAnalysis:
    """Every face of one decoded image, largest first."""

    width: int
    height: int
    faces: list[AnalysedFace]
    #: Clockwise turn the photo needed for its faces to be found; boxes are on it as given.
    turned_degrees: int = 0

    @property
    def accepted_faces(self) -> list[AnalysedFace]:
        return [f for f in self.faces if f.accepted]


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where an image came from; every field optional."""

    origin_url: str | None = None
    page_url: str | None = None
    captured_at: datetime | None = None
    licence_ref: str | None = None
    fetched_at: datetime | None = None  # when facelens fetched origin_url (manifest ingest)


@dataclass(frozen=True, slots=True)
class Match:
    """One gallery face returned by a search."""

    face_id: int
    similarity: float
    is_match: bool
    box: Box
    image_id: int
    image_location: str
    collection: str
    person_id: int | None
    person_name: str | None
    provenance: Provenance
    #: The AS-normalised score (``facelens.scoring.normalisation``); None when the gallery
    #: is too small to normalise against.
    normalised_score: float | None = None
    #: The short side of ``box``, pixels; ``small_face`` when under ``SMALL_FACE_PX`` (64):
    #: a match on a small face is weaker evidence, for a reviewer to weigh.
    size_px: int = field(init=False)
    small_face: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "size_px", self.box.short_side)
        object.__setattr__(self, "small_face", self.box.short_side < SMALL_FACE_PX)


@dataclass(frozen=True, slots=True)
class ProbeFaceMatches:
    """The ranked matches of one face found in the probe photo."""

    probe_box: Box
    matches: list[Match]
    #: SHA-256 of the probe face's embedding: ties a logged search to its probe without
    #: keeping the probe (the embedding cannot be recovered from it).
    probe_sha256: str = ""
    #: Per-person searches: persons and lone faces, best first (``matches``: their best faces).
    candidates: list[PersonCandidate] = field(default_factory=list)
    #: The short side of ``probe_box``, pixels, and whether it is under ``SMALL_FACE_PX``.
    probe_size_px: int = field(init=False)
    probe_small_face: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "probe_size_px", self.probe_box.short_side)
        object.__setattr__(self, "probe_small_face", self.probe_box.short_side < SMALL_FACE_PX)


@dataclass(frozen=True, slots=True)
class SearchResult:
    threshold: float
    model: ModelId
    faces: list[ProbeFaceMatches]
    faces_rejected: list[FaceQuality] = field(default_factory=list)
    #: The search's row in the search log (searches by an account); None otherwise.
    search_id: int | None = None
    #: Clockwise turn the probe needed for a face to be found; boxes are on it as given.
    probe_turned_degrees: int = 0
    #: How the matches were decided (None: not recorded, as in results made before it).
    decision: SearchDecision | None = None
    #: Per-person searches: how each person's faces were fused (None: face by face).
    person_fusion: str | None = None
    #: Several photos of one person searched as one: each photo's face's embedding hash.
    fused_probe_sha256: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    same_person: bool
    similarity: float
    threshold: float
    box_a: Box
    box_b: Box
    model: ModelId
    turned_degrees_a: int = 0  # clockwise turn each photo needed for its face to be found
    turned_degrees_b: int = 0


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    name: str
    face_ids: list[int]


@dataclass(frozen=True, slots=True)
class Stats:
    collections: int
    images: int
    faces_indexed: int
    faces_rejected: int
    persons: int
    index_count: int
    model: ModelId | None
    store_backend: str
    index_backend: str
    index_params: dict[str, Any]
    #: Faces whose stored template does not open (damaged): out of the index and search.
    faces_quarantined: int = 0
    #: Stored faces by size band (``facelens.face_sizes``): indexed ones, and rejected ones by
    #: reason, then band; the shapes of ``IngestReport``'s fields of the same names.
    faces_indexed_by_size: dict[str, int] = field(default_factory=dict)
    faces_rejected_by_size: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PersonSearchResult:
    """Gallery faces like a named person's, other than their own, best first."""

    person: Person
    threshold: float
    model: ModelId
    matches: list[Match]
    query_sha256: str = ""  # of the mean embedding searched with
    #: The search's row in the search log (searches by an account); None otherwise.
    search_id: int | None = None


@dataclass(frozen=True, slots=True)
class Account:
    """A user of the service; ``role`` is one of ``facelens.security.accounts.Role``."""

    id: int
    name: str
    role: str
    created_at: datetime
    disabled: bool = False
    jurisdiction: str | None = None  # where the account operates (jurisdiction policy)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks the engine for something, as its logs name them: ``actor`` says through which
    door ("cli:<user>", "account:<id> <name>" for the HTTP API, "python:<user>"); an
    ``account_id`` (HTTP API accounts) also puts their searches in the per-account search log.
    """

    actor: str
    account_id: int | None = None

    @classmethod
    def python(cls) -> Caller:
        """The operating-system user of a Python program using the engine directly."""
        try:
            return cls(f"python:{getpass.getuser()}")
        except (KeyError, OSError):  # no name for this uid (a bare container)
            return cls(f"python:uid {os.getuid()}")


@dataclass(frozen=True, slots=True)
class SearchRecord:
    """One logged search (never the probe image or its embedding)."""

    account_id: int
    account_name: str
    purpose: str
    case_ref: str
    collections: list[str]
    probe_faces: int
    results: int
    matches: int
    threshold: float
    searched_at: datetime
    id: int = 0
    probe_sha256: list[str] = field(default_factory=list)
    result_face_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Consent:
    """A subject's consent to biometric processing, and the evidence for it."""

    id: int
    subject_ref: str  # the operator's reference for the subject, not necessarily a name
    purpose: str
    scope: list[str]  # collections the consent covers
    given_at: datetime
    expires_at: datetime | None
    evidence_ref: str
    last_interaction_at: datetime
    withdrawn_at: datetime | None = None
    person_id: int | None = None

    def valid_at(self, when: datetime) -> bool:
        return (
            self.withdrawn_at is None
            and self.given_at <= when
            and (self.expires_at is None or when < self.expires_at)
        )


@dataclass(frozen=True, slots=True)
class SubjectRequest:
    """A data subject's access or erasure request, and what came of it."""

    id: int
    kind: str  # "access" | "erasure"
    request_ref: str
    status: str  # "pending" (awaiting an admin's review) | "completed" | "no_match"
    created_at: datetime
    created_by: str
    faces_found: int = 0
    faces_erased: int = 0
    images_erased: int = 0
    completed_at: datetime | None = None
    confirmed_by: str | None = None
    photos: int = 1  # photos of the requester the request was made with
    threshold: float | None = None  # the calibrated rule's; None for requests before it
    expected_false_candidates: float | None = None  # strangers the rule expects to propose
    gallery_faces: int = 0  # faces held when the request was made
    faces_confirmed: int = 0  # candidates an admin confirmed as the requester's


def to_jsonable(value: Any) -> Any:
    """Convert result objects to plain JSON types (used by ``--json``; keys are stable)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, ModelId):
            out["id"] = str(value)
        if isinstance(value, IngestReport):
            out["images_per_s"] = round(value.images_per_s, 3)
        return out
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        # Every facelens time is UTC: say so (ISO 8601 with its offset), even for a naive one.
        return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.floating | float):
        return round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    return value
