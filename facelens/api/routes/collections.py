"""Collections and the legal basis their data is held under."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import Field

from facelens.api.deps import ServiceDep, allowed
from facelens.api.params import Body
from facelens.api.schemas import CollectionOut, CollectionPolicyOut, FacesRemovedOut
from facelens.errors import NotFoundError
from facelens.privacy.policy import MAX_RETENTION_DAYS, CollectionPolicy, LegalBasis
from facelens.security.accounts import Action
from facelens.types import Account, to_jsonable

router = APIRouter(tags=["collections"])
Viewer = Annotated[Account, Depends(allowed(Action.VIEW_COLLECTIONS))]
Manager = Annotated[Account, Depends(allowed(Action.MANAGE_COLLECTIONS))]


class PolicyIn(Body):
    """A collection's legal basis (``facelens.privacy.policy.CollectionPolicy``)."""

    basis: LegalBasis
    basis_text: str | None = Field(default=None, description="Required for the basis 'other'.")
    jurisdictions: list[str] = Field(
        min_length=1, description="Jurisdictions the data concerns (ISO 3166: GB, US-IL, EU)."
    )
    purpose: str = Field(min_length=3)
    retention_days: int = Field(
        ge=1,
        le=MAX_RETENTION_DAYS,
        description="Days data is kept after ingest (100 years at most).",
    )
    seal_locations: bool = Field(
        default=False, description="Seal the images' locations (paths often name the person)."
    )

    def policy(self) -> CollectionPolicy:
        return CollectionPolicy.parse(
            self.basis.value, self.jurisdictions, self.purpose, self.retention_days,
            self.basis_text, self.seal_locations,
        )  # fmt: skip


class CollectionIn(PolicyIn):
    name: str = Field(min_length=1, max_length=200)


@router.get("/collections", response_model=list[str])
def get_collections(svc: ServiceDep, _: Viewer) -> list[str]:
    return svc.engine.collection_names()


@router.post("/collections", status_code=201, response_model=CollectionPolicyOut)
def post_collection(body: CollectionIn, svc: ServiceDep, _: Manager) -> dict[str, Any]:
    """A collection, with the legal basis, jurisdictions, purpose and retention period
    its data is held under (ingest into a collection without them is refused)."""
    policy = body.policy()
    with svc.lock:
        svc.engine.create_collection(body.name.strip(), policy)
    return {"name": body.name.strip(), "policy": to_jsonable(policy)}


@router.put("/collections/{name}/policy", response_model=CollectionPolicyOut)
def put_collection_policy(name: str, body: PolicyIn, svc: ServiceDep, _: Manager) -> dict[str, Any]:
    """Declare or change the collection's legal basis (logged)."""
    policy = body.policy()
    with svc.lock:
        svc.engine.set_collection_policy(name, policy)
    return {"name": name, "policy": to_jsonable(policy)}


@router.get("/collections/{name}", response_model=CollectionOut)
def get_collection(name: str, svc: ServiceDep, _: Viewer) -> dict[str, Any]:
    images, faces = svc.engine.collection_counts(name)
    policy = svc.engine.collection_policy(name)
    return {
        "name": name,
        "images": images,
        "faces_indexed": faces,
        "policy": to_jsonable(policy),
    }


@router.delete("/collections/{name}", response_model=FacesRemovedOut)
def delete_collection(name: str, svc: ServiceDep, _: Manager) -> dict[str, int]:
    with svc.lock:
        if name not in svc.engine.collection_names():
            raise NotFoundError(f"no collection named {name!r}")
        return {"faces_removed": svc.engine.delete(collection=name)}
