"""Persons: named, given faces, merged, deleted, and searched for by their own faces."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import Field

from facelens.api.deps import ServiceDep, allowed, caller_of
from facelens.api.links import with_links
from facelens.api.params import MAX_PAGE, Body, DbId
from facelens.api.schemas import FacesRemovedOut, PersonOut, PersonSearchOut
from facelens.security.accounts import Action
from facelens.types import Account, to_jsonable

# Tags by route: one of them is a search.
router = APIRouter()
Enroller = Annotated[Account, Depends(allowed(Action.INGEST))]


class PersonIn(Body):
    name: str = Field(min_length=1, max_length=200)


class FaceIdsIn(Body):
    face_ids: list[DbId] = Field(min_length=1, max_length=MAX_PAGE)


class MergeIn(Body):
    other_person_id: DbId


class PurposeIn(Body):
    # Checked by the engine (``Engine.check_search_purpose``): missing is a refusal, not a 422.
    purpose: str = Field(default="", description="Why you search (logged).")
    case_ref: str = Field(default="", description="Case reference (logged).")
    top_k: int | None = Field(default=None, ge=1, le=1000)
    threshold: float | None = Field(default=None, ge=-1.0, le=1.0)
    collections: list[str] = Field(default_factory=list)


@router.get("/persons", tags=["persons"], response_model=list[PersonOut])
def get_persons(
    svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.BROWSE))]
) -> list[dict[str, Any]]:
    return [to_jsonable(p) for p in svc.engine.persons()]


@router.post("/persons", tags=["persons"], status_code=201, response_model=PersonOut)
def post_person(body: PersonIn, svc: ServiceDep, _: Enroller) -> dict[str, Any]:
    with svc.lock:
        return dict(to_jsonable(svc.engine.create_person(body.name.strip())))


@router.patch("/persons/{person_id}", tags=["persons"], response_model=PersonOut)
def patch_person(person_id: DbId, body: PersonIn, svc: ServiceDep, _: Enroller) -> dict[str, Any]:
    """Rename."""
    with svc.lock:
        return dict(to_jsonable(svc.engine.rename_person(person_id, body.name.strip())))


@router.post("/persons/{person_id}/faces", tags=["persons"], response_model=PersonOut)
def post_person_faces(
    person_id: DbId, body: FaceIdsIn, svc: ServiceDep, _: Enroller
) -> dict[str, Any]:
    """Assign faces to the person."""
    with svc.lock:
        return dict(to_jsonable(svc.engine.assign_faces(person_id, body.face_ids)))


@router.post("/persons/{person_id}/merge", tags=["persons"], response_model=PersonOut)
def post_person_merge(
    person_id: DbId, body: MergeIn, svc: ServiceDep, _: Enroller
) -> dict[str, Any]:
    """Move the other person's faces to this one and delete the other."""
    with svc.lock:
        merged = svc.engine.merge_persons(person_id, body.other_person_id)
        return dict(to_jsonable(merged))


@router.delete("/persons/{person_id}", tags=["persons"], response_model=FacesRemovedOut)
def delete_person(
    person_id: DbId, svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.DELETE))]
) -> dict[str, int]:
    """Delete the person and every face assigned to them (store and index)."""
    with svc.lock:
        return {"faces_removed": svc.engine.delete(person=person_id)}


# Here rather than with the searches: it is about a person (and keeps the API's order).
@router.post("/persons/{person_id}/searches", tags=["search"], response_model=PersonSearchOut)
def post_person_search(
    person_id: DbId,
    body: PurposeIn,
    svc: ServiceDep,
    who: Annotated[Account, Depends(allowed(Action.SEARCH))],
) -> dict[str, Any]:
    """Faces like the person's own (their mean), other than theirs; logged like a search."""
    with svc.lock:
        result = svc.engine.search_person(
            person_id, body.top_k, body.threshold, body.collections or None,
            purpose=body.purpose, case_ref=body.case_ref, caller=caller_of(who),
        )  # fmt: skip
    return {"search_id": result.search_id, **with_links(to_jsonable(result))}
