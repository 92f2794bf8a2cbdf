"""Persons: named, given faces, merged, split, deleted, searched for by their own faces, and
reviewers' "not this person" on a face (and its withdrawal)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from facelens.api.deps import ServiceDep, allowed, caller_of
from facelens.api.links import with_links
from facelens.api.params import MAX_PAGE, Body, DbId
from facelens.api.schemas import (
    FacesRemovedOut,
    PersonOut,
    PersonReferencesOut,
    PersonSearchOut,
    RejectionOut,
    SplitOut,
)
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


class SplitIn(Body):
    face_ids: list[DbId] = Field(
        min_length=1, max_length=MAX_PAGE, description="The faces that move to the new person."
    )
    name: str = Field(min_length=1, max_length=200, description="The new person's name.")


class RejectionIn(Body):
    face_id: DbId = Field(description="The face that is not this person.")


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
    person_id: DbId, body: MergeIn, svc: ServiceDep, who: Enroller
) -> dict[str, Any]:
    """Move the other person's faces and rejections to this one and delete the other; 409
    (``match_rejected``) while one has marked a face of the other "not this person"."""
    with svc.lock:
        merged = svc.engine.merge_persons(person_id, body.other_person_id, caller=caller_of(who))
        return dict(to_jsonable(merged))


@router.post(
    "/persons/{person_id}/split", tags=["persons"], status_code=201, response_model=SplitOut
)
def post_person_split(
    person_id: DbId, body: SplitIn, svc: ServiceDep, who: Enroller
) -> dict[str, Any]:
    """Move some of the person's faces (not all) into a new person."""
    with svc.lock:
        made = svc.engine.split_person(
            person_id, body.face_ids, body.name.strip(), caller=caller_of(who)
        )
        left = svc.engine.person(person_id)
    return {"person": to_jsonable(left), "new_person": to_jsonable(made)}


@router.get("/persons/{person_id}/rejections", tags=["persons"], response_model=list[RejectionOut])
def get_person_rejections(
    person_id: DbId,
    svc: ServiceDep,
    _: Annotated[Account, Depends(allowed(Action.BROWSE))],
    withdrawn: Annotated[bool, Query(description="Also those since withdrawn.")] = False,
) -> list[dict[str, Any]]:
    """The faces reviewers said are not this person, oldest first."""
    return [to_jsonable(r) for r in svc.engine.rejections(person_id, withdrawn=withdrawn)]


@router.post(
    "/persons/{person_id}/rejections",
    tags=["persons"],
    status_code=201,
    response_model=RejectionOut,
)
def post_person_rejection(
    person_id: DbId, body: RejectionIn, svc: ServiceDep, who: Enroller
) -> dict[str, Any]:
    """Not this person: the face is taken from the person (if theirs), never proposed for
    them again, and assigning it to them answers 409 (``match_rejected``), until withdrawn.
    Recorded with who and when."""
    with svc.lock:
        rejection = svc.engine.reject_match(person_id, body.face_id, caller=caller_of(who))
        return dict(to_jsonable(rejection))


@router.post(
    "/persons/{person_id}/rejections/{face_id}/withdraw",
    tags=["persons"],
    response_model=RejectionOut,
)
def post_person_rejection_withdrawal(
    person_id: DbId, face_id: DbId, svc: ServiceDep, who: Enroller
) -> dict[str, Any]:
    """Withdraw a "not this person" (recorded with who and when; the rejection stays on
    record); 404 when none stands."""
    with svc.lock:
        rejection = svc.engine.withdraw_rejection(person_id, face_id, caller=caller_of(who))
        return dict(to_jsonable(rejection))


@router.get("/persons/{person_id}/references", tags=["persons"], response_model=PersonReferencesOut)
def get_person_references(
    person_id: DbId, svc: ServiceDep, who: Annotated[Account, Depends(allowed(Action.BROWSE))]
) -> dict[str, Any]:
    """The person's faces checked against each other: each face's median similarity to the
    others and its quality, and the faces that do not agree with the rest (``outlier``) or
    are small or blurred (``low_quality``), for a reviewer. Audited."""
    with svc.lock:
        report = svc.engine.check_person_references(person_id, caller=caller_of(who))
    return dict(with_links(to_jsonable(report)))


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
