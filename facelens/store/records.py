"""The values the metadata store hands back (beyond those in ``facelens.types``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from facelens.types import Box, FloatArray, IdArray, ImageAnalysis, Provenance


@dataclass(frozen=True, slots=True)
class NewImage:
    """An image to add (``MetadataStore.add_images``)."""

    location: str
    sha256: str
    analysis: ImageAnalysis
    provenance: Provenance


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
class PersonRejection:
    """A reviewer's "not this person" on a face: who said it and when (``rejected_by`` names
    the caller as the audit log does), and who withdrew it and when (``None``: it stands)."""

    id: int
    person_id: int
    face_id: int
    rejected_by: str
    rejected_at: datetime
    withdrawn_by: str | None = None
    withdrawn_at: datetime | None = None


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
    #: Accepted faces by size band, and rejected ones by reason then band
    #: (``facelens.face_sizes.SIZE_BANDS``; only bands with a face, smallest first).
    faces_accepted_by_size: dict[str, int] = field(default_factory=dict)
    faces_rejected_by_size: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClusterRecord:
    """A proposed person: faces of one collection that clustering found alike."""

    cluster_id: int
    collection: str
    status: str  # "proposed" | "dismissed"
    face_ids: list[int]  # ascending
    created_at: datetime
    updated_at: datetime
