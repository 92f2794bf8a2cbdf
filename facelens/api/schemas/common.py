"""What every response model shares: the strict base, times, boxes, models, provenance.

The models describe the JSON the routes return today (``facelens.types.to_jsonable`` of the
engine's dataclasses): boxes are ``xyxy`` pixels, similarities cosine in [-1, 1], times ISO 8601
strings with their UTC offset. Times stay strings here (checked, not parsed), so that a route
answering through one of these models sends exactly the text it sends now.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema


class Out(BaseModel):
    """A response body: no field missing, none unknown."""

    model_config = ConfigDict(extra="forbid")


def _iso_time(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {value!r}") from None
    if parsed.utcoffset() is None:
        raise ValueError(f"an ISO 8601 time without its UTC offset: {value!r}")
    return value


#: A time as facelens answers it: ISO 8601 with its offset (UTC: ``+00:00``), kept as text.
IsoTime = Annotated[
    str, AfterValidator(_iso_time), WithJsonSchema({"type": "string", "format": "date-time"})
]


class BoxOut(Out):
    """A face box, ``xyxy`` in pixels of the decoded, EXIF-rotated image (x2, y2 exclusive)."""

    x1: int = Field(description="Left edge, pixels.")
    y1: int = Field(description="Top edge, pixels.")
    x2: int = Field(description="Right edge (exclusive), pixels.")
    y2: int = Field(description="Bottom edge (exclusive), pixels.")


class ModelIdOut(Out):
    """The model that made the embeddings compared."""

    name: str
    version: str
    dim: int = Field(description="Embedding dimension.")
    id: str = Field(description="name@version/dim.")


class ProvenanceOut(Out):
    """Where an image came from; every field may be null."""

    origin_url: str | None = Field(description="URL the image was fetched from.")
    page_url: str | None = Field(description="Page the image was found on.")
    captured_at: IsoTime | None = Field(description="When the photo was taken (UTC).")
    licence_ref: str | None = Field(description="Licence or permission reference.")
    fetched_at: IsoTime | None = Field(description="When facelens fetched origin_url (UTC).")


#: The links the API adds to every face it shows (JPEGs; they need the search permission).
ThumbnailUrl = Annotated[
    str, Field(description="/faces/{face_id}/thumbnail: the face, cropped, as a JPEG.")
]
SourceUrl = Annotated[str, Field(description="/faces/{face_id}/source: the whole image, JPEG.")]


class FacesRemovedOut(Out):
    faces_removed: int = Field(description="Faces deleted from the store and the index.")


class StatusOut(Out):
    status: str
