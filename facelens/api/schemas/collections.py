"""Collections, images, uploads and ingest jobs, faces."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from facelens.api.schemas.common import BoxOut, IsoTime, Out, ProvenanceOut, SourceUrl, ThumbnailUrl
from facelens.face_sizes import SIZE_BANDS
from facelens.privacy.policy import LegalBasis

#: The size bands named in descriptions: a face's size is the short side of its box.
BANDS = "short side of the box: " + ", ".join(band.name for band in SIZE_BANDS)

# --- collections ------------------------------------------------------------------------------


class PolicyOut(Out):
    """The legal basis a collection's data is held under."""

    basis: LegalBasis
    jurisdictions: list[str] = Field(description="ISO 3166 codes the data concerns, sorted.")
    purpose: str
    retention_days: int = Field(description="Days data is kept after ingest.")
    basis_text: str | None = Field(description="What the basis is (for the basis other).")
    seal_locations: bool = Field(description="Whether image locations are sealed.")


class CollectionPolicyOut(Out):
    """A collection made, or its policy set."""

    name: str
    policy: PolicyOut


class CollectionOut(Out):
    name: str
    images: int = Field(description="Images stored.")
    faces_indexed: int = Field(description="Accepted faces.")
    policy: PolicyOut | None = Field(
        description="Null for a collection made before legal bases were recorded."
    )


# --- ingest -----------------------------------------------------------------------------------


class IngestFailureOut(Out):
    location: str = Field(description="The file that failed.")
    error: str = Field(description="Error code, e.g. unsupported_image.")
    message: str


class IngestReportOut(Out):
    """What an ingest did (``facelens.ingest_report.IngestReport``)."""

    collection: str
    images_seen: int
    images_ingested: int
    duplicates_skipped: int
    faces_indexed: int
    faces_rejected: dict[str, int] = Field(description="Faces not indexed, by reason.")
    faces_indexed_by_size: dict[str, int] = Field(
        description=f"Faces indexed, by size band ({BANDS}); only bands with a face."
    )
    faces_rejected_by_size: dict[str, dict[str, int]] = Field(
        description='Faces stored but not indexed, by reason, then size band: {"too_small": '
        '{"32-40px": 1}}.'
    )
    faces_suppressed: int = Field(
        description="Faces of people who opted out: neither stored nor indexed."
    )
    failures: list[IngestFailureOut]
    refusals: dict[str, int] = Field(description="Manifest URLs refused, by rule.")
    elapsed_s: float = Field(description="Seconds.")
    images_per_s: float


class UploadOutcomeOut(Out):
    """What became of one uploaded file that did not fail."""

    file: str = Field(description="The upload's file name.")
    sha256: str = Field(description="SHA-256 of its bytes, hex.")
    outcome: Literal["stored", "duplicate", "suppressed"] = Field(
        description="suppressed: only faces of people who opted out, so nothing was kept."
    )


class UploadFailureOut(Out):
    """An uploaded file that failed (these alone carry error and message)."""

    file: str = Field(description="The upload's file name.")
    sha256: str = Field(description="SHA-256 of its bytes, hex.")
    outcome: Literal["failed"]
    error: str = Field(description="Error code, e.g. unsupported_image.")
    message: str


#: One file's outcome, told apart by ``outcome``.
UploadFileOut = Annotated[UploadOutcomeOut | UploadFailureOut, Field(discriminator="outcome")]


class UploadReportOut(IngestReportOut):
    """The ingest report of an upload, and each file's outcome."""

    files: list[UploadFileOut] = Field(description="One per upload, in order.")


class IngestJobOut(Out):
    """A server-side folder ingest running in the background."""

    job_id: int
    folder: str = Field(description="The folder, resolved.")
    collection: str
    status: Literal["queued", "running", "done", "failed"]
    files_total: int
    files_done: int
    error: str | None = Field(description="Why the job failed, or null.")
    report: IngestReportOut | None = Field(description="Null until the job is done or failed.")


# --- images and faces -------------------------------------------------------------------------


class ImageOut(Out):
    """A stored image: where it came from and its accepted faces."""

    image_id: int
    collection: str
    location: str = Field(description="Path of the source image.")
    sha256: str = Field(description="SHA-256 of the image file, hex.")
    width: int = Field(description="Pixels.")
    height: int = Field(description="Pixels.")
    provenance: ProvenanceOut
    ingested_at: IsoTime = Field(description="UTC.")
    face_ids: list[int] = Field(description="Its accepted faces.")


class FaceOut(Out):
    """A gallery face, with links to its crop and source."""

    face_id: int
    box: BoxOut
    image_id: int
    image_location: str = Field(description="Path of the source image.")
    collection: str
    person_id: int | None
    person_name: str | None
    provenance: ProvenanceOut
    thumbnail_url: ThumbnailUrl
    source_url: SourceUrl
