"""Background ingest of a server-side folder under an allowed root (``facelens.api.jobs``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import Field

from facelens.api.deps import ServiceDep, actor_name, allowed
from facelens.api.params import Body, DbId
from facelens.api.schemas import IngestJobOut
from facelens.errors import FolderNotAllowedError, NotFoundError
from facelens.security.accounts import Action
from facelens.types import Account, Provenance

# Tagged with the images: a job is the other way images come in.
router = APIRouter(tags=["images"])
Ingester = Annotated[Account, Depends(allowed(Action.INGEST))]


class IngestJobIn(Body):
    folder: str = Field(min_length=1, description="A folder under an allowed ingest root.")
    collection: str = Field(min_length=1, max_length=200)
    licence_ref: str | None = None


@router.post("/jobs/ingest", status_code=202, response_model=IngestJobOut)
def post_ingest_job(body: IngestJobIn, svc: ServiceDep, who: Ingester) -> dict[str, Any]:
    """Ingest a server-side folder (under an allowed root) in the background."""
    folder = allowed_folder(body.folder, svc.settings.ingest_allowed_roots)
    with svc.lock:
        svc.engine.check_bulk_ingest(body.collection.strip())
    provenance = Provenance(licence_ref=body.licence_ref)
    job = svc.jobs.start(
        svc.engine, svc.lock, folder, body.collection.strip(), provenance, actor_name(who)
    )
    return job.describe()


@router.get("/jobs/{job_id}", response_model=IngestJobOut)
def get_job(job_id: DbId, svc: ServiceDep, _: Ingester) -> dict[str, Any]:
    return svc.jobs.get(job_id).describe()


def allowed_folder(folder: str, roots: list[Path]) -> Path:
    """``folder`` resolved, when it lies under one of the allowed ingest roots."""
    if not roots:
        raise FolderNotAllowedError(
            "server-side ingest is off: an admin sets ingest_allowed_roots to allow folders"
        )
    resolved = Path(folder).resolve()  # symlinks and ".." resolved before the check
    if not any(resolved.is_relative_to(root.resolve()) for root in roots):
        raise FolderNotAllowedError(f"{folder} is not under an allowed ingest root")
    if not resolved.is_dir():
        raise NotFoundError(f"{folder}: no such folder")
    return resolved
