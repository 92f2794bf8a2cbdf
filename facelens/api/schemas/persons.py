"""Persons: named groups of faces (also made by enrolment)."""

from __future__ import annotations

from pydantic import Field

from facelens.api.schemas.common import IsoTime, ModelIdOut, Out, SourceUrl, ThumbnailUrl


class PersonOut(Out):
    id: int
    name: str
    face_ids: list[int] = Field(description="The faces assigned to the person.")


class RejectionOut(Out):
    """A reviewer's "not this person" on a face: never proposed for the person again, nor
    assigned to them, until withdrawn. Withdrawn ones stay on record."""

    id: int
    person_id: int
    face_id: int = Field(description="The face that is not the person.")
    rejected_by: str = Field(description="Who said so, as the audit log names them.")
    rejected_at: IsoTime
    withdrawn_by: str | None = Field(description="Who withdrew it (null: it stands).")
    withdrawn_at: IsoTime | None


class SplitOut(Out):
    """A person split in two: what is left of them, and the new person."""

    person: PersonOut
    new_person: PersonOut


class ReferenceCheckOut(Out):
    """One of the person's faces against their other faces."""

    face_id: int
    image_id: int
    image_location: str
    self_similarity: float | None = Field(
        description="Median similarity to the person's other faces (null: their only face)."
    )
    matches_others: int = Field(description="Other faces of theirs it matches.")
    others: int
    size_px: int = Field(description="Short side of the face's box, pixels.")
    sharpness: float = Field(description="Variance of Laplacian of the aligned chip.")
    quality_weight: float = Field(description="Its weight in quality_mean fusion, (0, 1].")
    outlier: bool = Field(description="It does not agree with the rest of the person.")
    low_quality: bool = Field(description="Small (under 64 px) or blurred.")
    reasons: list[str] = Field(description="Why it is flagged, in words.")
    thumbnail_url: ThumbnailUrl
    source_url: SourceUrl


class PersonReferencesOut(Out):
    """A person's reference faces checked against each other, for a reviewer."""

    person: PersonOut
    threshold: float
    model: ModelIdOut
    faces: list[ReferenceCheckOut]
    outliers: list[int] = Field(description="Faces flagged outlier.")
    low_quality: list[int] = Field(description="Faces flagged low quality.")
