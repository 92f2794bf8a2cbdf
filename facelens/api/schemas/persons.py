"""Persons: named groups of faces (also made by enrolment)."""

from __future__ import annotations

from pydantic import Field

from facelens.api.schemas.common import Out


class PersonOut(Out):
    id: int
    name: str
    face_ids: list[int] = Field(description="The faces assigned to the person.")
