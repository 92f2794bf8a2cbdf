"""Proposed persons: unassigned faces clustered, then accepted as a person or dismissed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from facelens.api.deps import ServiceDep, allowed, caller_of
from facelens.api.params import Body, DbId
from facelens.api.schemas import ClusterSummaryOut, PersonOut, ProposalOut
from facelens.security.accounts import Action
from facelens.types import Account, to_jsonable

router = APIRouter()
Enroller = Annotated[Account, Depends(allowed(Action.INGEST))]


class ClusteringIn(Body):
    collection: str | None = Field(
        default=None, max_length=200, description="Only this collection (null: each)."
    )


class AcceptIn(Body):
    name: str = Field(min_length=1, max_length=200)


@router.post("/clusterings", tags=["people"], response_model=ClusterSummaryOut)
def post_clustering(body: ClusteringIn, svc: ServiceDep, who: Enroller) -> dict[str, Any]:
    """Group the faces that are no person's and in no proposal into proposed persons."""
    with svc.lock:
        summary = svc.engine.cluster_faces(body.collection, caller=caller_of(who))
    return dict(to_jsonable(summary))


@router.get("/proposals", tags=["people"], response_model=list[ProposalOut])
def get_proposals(
    svc: ServiceDep,
    _: Annotated[Account, Depends(allowed(Action.BROWSE))],
    collection: Annotated[str | None, Query(max_length=200)] = None,
    dismissed: bool = False,
) -> list[dict[str, Any]]:
    """The proposed persons (with ``dismissed``, the dismissed ones too), by id."""
    with svc.lock:
        found = svc.engine.proposals(collection, status=None if dismissed else "proposed")
    return [to_jsonable(c) for c in found]


@router.post("/proposals/{cluster_id}/accept", tags=["people"], response_model=PersonOut)
def post_proposal_accept(
    cluster_id: DbId, body: AcceptIn, svc: ServiceDep, who: Enroller
) -> dict[str, Any]:
    """The proposal's faces become the person ``name``'s; the proposal goes."""
    with svc.lock:
        person = svc.engine.accept_proposal(cluster_id, body.name.strip(), caller=caller_of(who))
    return dict(to_jsonable(person))


@router.post("/proposals/{cluster_id}/dismiss", tags=["people"], response_model=ProposalOut)
def post_proposal_dismiss(cluster_id: DbId, svc: ServiceDep, who: Enroller) -> dict[str, Any]:
    """No longer listed; faces that fit it later join it rather than being proposed again."""
    with svc.lock:
        record = svc.engine.dismiss_proposal(cluster_id, caller=caller_of(who))
    return dict(to_jsonable(record))
