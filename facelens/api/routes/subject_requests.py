"""Data subject requests by selfie (access, erasure): opened, reviewed by an admin,
confirmed, and the access report (JSON, or a zip to send the requester)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from facelens.api.deps import ServiceDep, actor_name, allowed
from facelens.api.params import JPEG_RESPONSE, Body, DbId
from facelens.api.schemas import AccessReportOut, RequestReviewOut, SubjectRequestOut
from facelens.api.service import Service
from facelens.api.uploads import read_upload
from facelens.privacy.rights import (
    ACCESS,
    ERASURE,
    RequestReview,
    access_report,
    candidate_crop,
    confirm,
    export_access_report,
    open_request,
    review,
)
from facelens.security.accounts import Action
from facelens.types import Account, to_jsonable

router = APIRouter(tags=["subject requests"])
Handler = Annotated[Account, Depends(allowed(Action.HANDLE_SUBJECT_REQUESTS))]
Photos = Annotated[list[UploadFile], File(description="Photos of the requester.")]
RequestRef = Annotated[str, Form(min_length=1, max_length=200)]


class DecisionIn(Body):
    face_ids: list[DbId] = Field(
        default_factory=list,
        max_length=100_000,
        description="The candidates confirmed as the requester's; every other is rejected.",
    )


@router.post("/subject-requests/access", status_code=201, response_model=RequestReviewOut)
async def post_access_request(
    svc: ServiceDep, who: Handler, photos: Photos, request_ref: RequestRef
) -> dict[str, Any]:
    """Open an access request: the candidate faces, found by the calibrated rule, for an
    admin to review; nothing is disclosed until they confirm which are the requester's."""
    return await _open_subject_request(svc, who, ACCESS, photos, request_ref)


@router.post("/subject-requests/erasure", status_code=201, response_model=RequestReviewOut)
async def post_erasure_request(
    svc: ServiceDep, who: Handler, photos: Photos, request_ref: RequestRef
) -> dict[str, Any]:
    """Open an erasure and opt-out request: the candidate faces for an admin to review;
    nothing is erased until they confirm which are the requester's."""
    return await _open_subject_request(svc, who, ERASURE, photos, request_ref)


@router.get("/subject-requests/{request_id}", response_model=RequestReviewOut)
def get_subject_request(request_id: DbId, svc: ServiceDep, who: Handler) -> dict[str, Any]:
    """The request, the rule its candidates were found with, and every candidate with its
    similarity, source and decision (a crop of each: ``crop_url``)."""
    with svc.lock:
        return _review_json(review(svc.engine, request_id, actor_name(who)))


@router.get("/subject-requests/{request_id}/candidates/{face_id}/crop", **JPEG_RESPONSE)
def get_subject_request_crop(
    request_id: DbId, face_id: DbId, svc: ServiceDep, who: Handler
) -> Response:
    """One candidate face as a JPEG, for the review."""
    with svc.lock:
        crop = candidate_crop(svc.engine, request_id, face_id, actor_name(who))
    return Response(crop, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post("/subject-requests/{request_id}/confirm", response_model=SubjectRequestOut)
def post_subject_request_confirm(
    request_id: DbId, body: DecisionIn, svc: ServiceDep, who: Handler
) -> dict[str, Any]:
    """The admin's decision: ``face_ids`` are the requester's and every other candidate
    is not. Access: the report then holds exactly these. Erasure: these are erased (store,
    index, copies) and the requester's photos go on the suppression list."""
    with svc.lock:
        done = confirm(svc.engine, request_id, body.face_ids, actor_name(who), who.jurisdiction)
    return dict(to_jsonable(done))


@router.get(
    "/subject-requests/{request_id}/report",
    response_model=AccessReportOut,
    # With ``export``: a zip instead (a Response, which FastAPI sends as it is).
    responses={
        200: {
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The report as JSON, or with export a zip: report.json and a crop "
            "of each face.",
        }
    },
)
def get_access_report(
    request_id: DbId, svc: ServiceDep, who: Handler, export: bool = False
) -> dict[str, Any] | Response:
    """A confirmed access request's report: the faces confirmed as the requester's, with
    source, basis and retention; with ``export``, as a zip (report.json and a crop of each
    face) to send them."""
    with svc.lock:
        report = access_report(svc.engine, request_id, actor_name(who))
        if export:
            archive = export_access_report(svc.engine, report, actor_name(who))
            return Response(
                archive,
                media_type="application/zip",
                headers={
                    "Content-Disposition": 'attachment; filename="subject-access-'
                    f'{report.request.id}.zip"',
                    "Cache-Control": "no-store",
                },
            )
    return dict(to_jsonable(report))


@router.get("/subject-requests", response_model=list[SubjectRequestOut])
def get_subject_requests(svc: ServiceDep, _: Handler) -> list[dict[str, Any]]:
    return [to_jsonable(r) for r in svc.engine.subject_requests()]


async def _open_subject_request(
    svc: Service, who: Account, kind: str, photos: list[UploadFile], request_ref: str
) -> dict[str, Any]:
    data: list[bytes | Path] = [await read_upload(svc, photo) for photo in photos]
    opened = await run_in_threadpool(
        svc.locked,
        open_request,
        svc.engine,
        kind,
        data,
        request_ref,
        actor_name(who),
        who.jurisdiction,
    )
    return _review_json(opened)


def _review_json(opened: RequestReview) -> dict[str, Any]:
    body: dict[str, Any] = to_jsonable(opened)
    for candidate in body["candidates"]:
        candidate["crop_url"] = (
            f"/subject-requests/{opened.request.id}/candidates/{candidate['face_id']}/crop"
        )
    return body
