"""Background jobs over server-side files under an allowed root (``facelens.api.jobs``):
ingest of a folder, and search with many probe photos."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import Field

from facelens.api.deps import ServiceDep, actor_name, allowed, caller_of
from facelens.api.jobs import SearchRequest
from facelens.api.params import Body, DbId
from facelens.api.schemas import IngestJobOut, SearchJobOut
from facelens.errors import FolderNotAllowedError, NotFoundError
from facelens.security.accounts import Action
from facelens.types import Account, Provenance

# Tagged with the images: a job is the other way images come in.
router = APIRouter(tags=["images"])
Ingester = Annotated[Account, Depends(allowed(Action.INGEST))]
Searcher = Annotated[Account, Depends(allowed(Action.SEARCH))]
#: Most probes (files or folders) one search job names; a folder may hold any number.
MAX_JOB_PROBES = 1000


class IngestJobIn(Body):
    folder: str = Field(min_length=1, description="A folder under an allowed ingest root.")
    collection: str = Field(min_length=1, max_length=200)
    licence_ref: str | None = None


class SearchJobIn(Body):
    probes: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1,
        max_length=MAX_JOB_PROBES,
        description="Probe photos or folders of them (walked recursively for image files), "
        "each under an allowed ingest root.",
    )
    # Optional here so that a job without them is a refusal by rule (counted), not a
    # validation error: checked first thing below.
    purpose: str | None = Field(default=None, description="Why you search (logged).")
    case_ref: str | None = Field(default=None, description="Case reference (logged).")
    top_k: int | None = Field(default=None, ge=1, le=1000)
    threshold: float | None = Field(default=None, ge=-1.0, le=1.0)
    collections: list[str] = Field(default_factory=list, description="Only these (none: all).")


@router.post("/jobs/ingest", status_code=202, response_model=IngestJobOut)
def post_ingest_job(body: IngestJobIn, svc: ServiceDep, who: Ingester) -> dict[str, Any]:
    """Ingest a server-side folder (under an allowed root) in the background."""
    folder = allowed_path(body.folder, svc.settings.ingest_allowed_roots, folder=True)
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


@router.post("/jobs/search", status_code=202, response_model=SearchJobOut, tags=["search"])
def post_search_job(body: SearchJobIn, svc: ServiceDep, who: Searcher) -> dict[str, Any]:
    """Search with every probe photo of server-side files and folders (under an allowed
    root) in the background: each probe is a search of its own, logged with the purpose and
    case reference. Only the account that starts the job may see it."""
    caller = caller_of(who)
    with svc.lock:  # refused (and the refusal logged, by the engine) before anything is read
        purpose, case_ref = svc.engine.check_search_purpose(body.purpose, body.case_ref, caller)
        svc.engine.search_bounds(body.top_k, body.threshold)
    roots = svc.settings.ingest_allowed_roots
    request = SearchRequest(
        probes=[allowed_path(p, roots, folder=False) for p in body.probes],
        purpose=purpose,
        case_ref=case_ref,
        top_k=body.top_k,
        threshold=body.threshold,
        collections=[c.strip() for c in body.collections if c.strip()],
    )
    job = svc.search_jobs.start(svc.engine, svc.lock, svc.pipelines, request, caller)
    return job.describe()


@router.get("/jobs/search/{job_id}", response_model=SearchJobOut, tags=["search"])
def get_search_job(job_id: DbId, svc: ServiceDep, who: Searcher) -> dict[str, Any]:
    """A search job's progress, and the results of the probes searched so far."""
    return svc.search_jobs.get(job_id, who.id).describe()


def allowed_path(path: str, roots: list[Path], *, folder: bool) -> Path:
    """``path`` resolved, when it lies under one of the allowed ingest roots and exists (as a
    folder, with ``folder``)."""
    if not roots:
        raise FolderNotAllowedError(
            "server-side files are off: an admin sets ingest_allowed_roots to allow folders"
        )
    resolved = Path(path).resolve()  # symlinks and ".." resolved before the check
    if not any(resolved.is_relative_to(root.resolve()) for root in roots):
        raise FolderNotAllowedError(f"{path} is not under an allowed ingest root")
    if folder and not resolved.is_dir():
        raise NotFoundError(f"{path}: no such folder")
    if not resolved.exists():
        raise NotFoundError(f"{path}: no such file or folder")
    return resolved
