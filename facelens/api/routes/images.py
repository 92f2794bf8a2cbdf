"""Images: uploaded and ingested into a collection, listed, shown, deleted."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from facelens.api.deps import ServiceDep, actor_name, allowed
from facelens.api.params import DbId, PageLimit, PageOffset
from facelens.api.schemas import FacesRemovedOut, ImageOut, UploadReportOut
from facelens.api.service import Service
from facelens.api.uploads import save_upload
from facelens.ingest_report import IngestFailure, IngestReport
from facelens.security.accounts import Action
from facelens.types import Account, Provenance, to_jsonable

router = APIRouter(tags=["images"])
Browser = Annotated[Account, Depends(allowed(Action.BROWSE))]


@router.post("/collections/{name}/images", status_code=201, response_model=UploadReportOut)
async def post_images(
    name: str,
    svc: ServiceDep,
    response: Response,
    who: Annotated[Account, Depends(allowed(Action.INGEST))],
    files: Annotated[list[UploadFile], File(description="One or more photos.")],
    origin_url: Annotated[str | None, Form()] = None,
    page_url: Annotated[str | None, Form()] = None,
    licence_ref: Annotated[str | None, Form()] = None,
) -> dict[str, Any]:
    """Ingest uploaded photos into the collection: every face detected, checked, embedded
    and indexed. One bad file is reported and the others go on. ``files`` says what became
    of each upload (``stored``, ``duplicate``, ``failed`` with the error, ``suppressed``);
    201 when at least one image was stored, 200 (with the same report) when none was."""
    await run_in_threadpool(svc.locked, svc.engine.check_bulk_ingest, name)
    saved = [(upload.filename or "", await save_upload(svc, upload)) for upload in files]
    provenance = Provenance(origin_url=origin_url, page_url=page_url, licence_ref=licence_ref)
    report, outcomes = await run_in_threadpool(_ingest_uploads, svc, who, name, saved, provenance)
    if not report.images_ingested:
        response.status_code = 200  # nothing was created
    return {**to_jsonable(report), "files": outcomes}


@router.get("/collections/{name}/images", response_model=list[ImageOut])
def get_images(
    name: str, svc: ServiceDep, _: Browser, offset: PageOffset = 0, limit: PageLimit = 100
) -> list[dict[str, Any]]:
    return [to_jsonable(i) for i in svc.engine.images(name, offset, limit)]


@router.get("/images/{image_id}", response_model=ImageOut)
def get_image(image_id: DbId, svc: ServiceDep, _: Browser) -> dict[str, Any]:
    return dict(to_jsonable(svc.engine.image_record(image_id)))


@router.delete("/images/{image_id}", response_model=FacesRemovedOut)
def delete_image(
    image_id: DbId, svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.DELETE))]
) -> dict[str, int]:
    with svc.lock:
        svc.engine.image_record(image_id)  # 404 when unknown
        return {"faces_removed": svc.engine.delete(image=image_id)}


def _named(failure: IngestFailure, name: str | None) -> IngestFailure:
    if name is None:
        return failure
    return replace(failure, location=name, message=failure.message.replace(failure.location, name))


def _ingest_uploads(
    svc: Service,
    who: Account,
    collection: str,
    uploads: list[tuple[str, Path]],
    provenance: Provenance,
) -> tuple[IngestReport, list[dict[str, Any]]]:
    """Ingest the saved uploads (attributed to ``who``) and say what became of each."""
    with svc.lock:
        before = svc.engine.known_image_hashes(collection)
        report = svc.engine.ingest(
            [path for _, path in uploads],
            collection,
            provenance=provenance,
            workers=1,
            actor=actor_name(who),
        )
        after = svc.engine.known_image_hashes(collection)
    # The uploader knows a file by its name: the server's path tells them nothing and shows
    # the server's layout, so failures name the upload instead.
    names = {str(p): name for name, path in uploads for p in (path.absolute(), path.resolve())}
    failed = {f.location: _named(f, names.get(f.location)) for f in report.failures}
    report.failures = list(failed.values())
    seen: set[str] = set()
    outcomes: list[dict[str, Any]] = []
    for filename, path in uploads:
        sha256 = path.parent.name  # uploads are kept under their content hash
        failure = failed.get(str(path.absolute())) or failed.get(str(path.resolve()))
        outcome: dict[str, Any] = {"file": filename, "sha256": sha256}
        if failure is not None:
            outcome |= {"outcome": "failed", "error": failure.error, "message": failure.message}
        elif sha256 in before or sha256 in seen:
            outcome["outcome"] = "duplicate"
        elif sha256 in after:
            outcome["outcome"] = "stored"
        else:  # analysed, not failed, not stored: only faces of people who opted out
            outcome["outcome"] = "suppressed"
        seen.add(sha256)
        outcomes.append(outcome)
    return report, outcomes
