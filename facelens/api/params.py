"""Parameter types shared by the routes: ids, pages, dates from users, and the base of every
request body."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from annotated_types import Interval
from fastapi import Query, Response
from pydantic import AfterValidator, BaseModel, field_validator

from facelens.errors import InvalidArgumentError
from facelens.privacy.policy import check_date

#: SQLite integers are signed 64-bit: a larger id names no row and cannot even be bound.
MAX_DB_ID = 2**63 - 1
#: A database id (image, face, person, consent, request, job), in a path, query or body.
DbId = Annotated[int, Interval(ge=1, le=MAX_DB_ID)]
#: Most rows a list answers at once.
MAX_PAGE = 1000
PageLimit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"At most {MAX_PAGE}.")]
PageOffset = Annotated[int, Query(ge=0, le=MAX_DB_ID)]


def _in_calendar(value: datetime) -> datetime:
    try:
        return check_date(value, "the date")
    except InvalidArgumentError as exc:  # a ValueError is what pydantic reports as a 422
        raise ValueError(str(exc)) from None


#: A date from a user, within the dates facelens accepts (no overflow at the calendar's edges).
Moment = Annotated[datetime, AfterValidator(_in_calendar)]


def aware(value: datetime | None) -> datetime | None:
    """A time without a zone is taken as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class Body(BaseModel):
    """Request bodies: no text may hold a NUL byte (it ends strings in file paths and C
    libraries, so it would mean one thing here and another there)."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and "\x00" in t for t in texts):
            raise ValueError("must not contain a NUL byte")
        return value


def binary_response(media_type: str, description: str) -> dict[str, Any]:
    """Route options for a route that answers bytes, not JSON: OpenAPI then shows the real
    media type instead of an empty JSON schema."""
    return {
        "response_class": Response,
        "responses": {200: {"content": {media_type: {}}, "description": description}},
    }


JPEG_RESPONSE = binary_response("image/jpeg", "A JPEG image.")
