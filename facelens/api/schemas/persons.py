"""Persons: named groups of faces (also made by enrolment)."""

from __future__ import annotations

from pydantic import Field

from facelens.api.schemas.common import IsoTime, Out


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
