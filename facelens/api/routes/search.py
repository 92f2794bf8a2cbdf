"""Searches by probe photo, the search log, and verification of two photos.

The costly, stateless part (decode, detect, align, embed) runs outside the engine lock on a
pipeline of its own; only the index, store and log part holds the lock (milliseconds).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from facelens.api.deps import ServiceDep, account, allowed, caller_of
from facelens.api.links import with_links
from facelens.api.params import PageLimit
from facelens.api.schemas import SearchOut, SearchRecordOut, VerificationOut
from facelens.api.service import Service
from facelens.api.uploads import read_upload
from facelens.engine.person_search import MAX_SAME_PERSON_PHOTOS
from facelens.errors import InvalidArgumentError
from facelens.scoring.decision import measured_fmr
from facelens.security.accounts import Action, authorise, may
from facelens.types import Account, to_jsonable

router = APIRouter(tags=["search"])
Searcher = Annotated[Account, Depends(allowed(Action.SEARCH))]


@router.post("/searches", response_model=SearchOut)
async def post_search(
    svc: ServiceDep,
    who: Searcher,
    image: Annotated[
        list[UploadFile],
        File(description="The probe photo; with same_person, several photos of one person."),
    ],
    # Optional here so that a search without them is a refusal by rule (counted), not a
    # validation error: checked first thing below.
    purpose: Annotated[str | None, Form(description="Why you search (logged).")] = None,
    case_ref: Annotated[str | None, Form(description="Case reference (logged).")] = None,
    top_k: Annotated[int | None, Form(ge=1, le=1000)] = None,
    threshold: Annotated[float | None, Form(ge=-1.0, le=1.0)] = None,
    collections: Annotated[str | None, Form(description="Comma-separated names.")] = None,
    per_person: Annotated[
        bool,
        Form(description="Answer with persons (scored on all their faces) and lone faces."),
    ] = False,
    same_person: Annotated[
        bool,
        Form(description="The photos are of one person: their main faces fused, searched once."),
    ] = False,
) -> dict[str, Any]:
    """Every face in the probe with its most similar gallery faces and their sources; per
    person (``per_person``), and several photos of one person as one probe
    (``same_person``)."""
    # Refused (and the refusal logged, by the engine) before the upload is read.
    await run_in_threadpool(svc.engine.check_search_purpose, purpose, case_ref, caller_of(who))
    if len(image) > 1 and not same_person:
        raise InvalidArgumentError(
            f"{len(image)} photos sent: one probe photo a search, or same_person for several "
            "photos of one person (POST /jobs/search searches many probes)"
        )
    if len(image) > MAX_SAME_PERSON_PHOTOS:
        raise InvalidArgumentError(f"at most {MAX_SAME_PERSON_PHOTOS} photos of one person")
    photos = [await read_upload(svc, upload) for upload in image]
    names = [c.strip() for c in (collections or "").split(",") if c.strip()]
    how = _How(per_person, same_person)
    return await run_in_threadpool(
        _search, svc, who, photos, top_k, threshold, names, purpose, case_ref, how
    )


@router.get("/searches", response_model=list[SearchRecordOut])
def get_searches(
    svc: ServiceDep, who: Annotated[Account, Depends(account)], limit: PageLimit = 100
) -> list[dict[str, Any]]:
    """The search log: analysts see their own searches, admins and auditors everyone's."""
    if may(who, Action.READ_ALL_SEARCHES):
        owner = None
    else:
        authorise(who, Action.READ_OWN_SEARCHES)
        owner = who.id
    return [to_jsonable(r) for r in svc.engine.search_log(owner, limit)]


@router.post("/verifications", response_model=VerificationOut)
async def post_verification(
    svc: ServiceDep,
    who: Searcher,
    first: Annotated[UploadFile, File()],
    second: Annotated[UploadFile, File()],
    threshold: Annotated[float | None, Form(ge=-1.0, le=1.0)] = None,
) -> dict[str, Any]:
    """Are the largest faces of two photos the same person?"""
    a, b = await read_upload(svc, first), await read_upload(svc, second)
    return await run_in_threadpool(_verify, svc, who, a, b, threshold)


@dataclass(frozen=True, slots=True)
class _How:
    per_person: bool
    same_person: bool


def _search(
    svc: Service,
    who: Account,
    photos: list[bytes],
    top_k: int | None,
    threshold: float | None,
    names: list[str],
    purpose: str | None,
    case_ref: str | None,
    how: _How,
) -> dict[str, Any]:
    """A search in the thread pool: the probe analysed on a pipeline of its own, outside the
    engine lock; the index, the store and the log (by the engine) under it."""
    started = time.perf_counter()
    # Checked here; a threshold not given stays None, so that the engine's decision applies.
    top_k, _ = svc.engine.search_bounds(top_k, threshold)
    with svc.pipelines.borrow() as pipeline:
        analysed = [
            svc.engine.probe_faces(
                data, f"probe photo {n}" if how.same_person else "probe image", pipeline=pipeline
            )
            for n, data in enumerate(photos, start=1)
        ]
    with svc.lock:
        if how.same_person:
            result = svc.engine.search_fused(
                analysed, top_k, threshold, names or None, purpose=purpose,
                case_ref=case_ref, caller=caller_of(who), per_person=how.per_person,
            )  # fmt: skip
        else:
            [(analysis, faces)] = analysed
            result = svc.engine.search_analysed(
                analysis, faces, top_k, threshold, names or None, purpose=purpose,
                case_ref=case_ref, caller=caller_of(who), per_person=how.per_person,
            )  # fmt: skip
    svc.metrics.search_latency.observe(time.perf_counter() - started)
    return {"search_id": result.search_id, **with_links(to_jsonable(result))}


def _verify(
    svc: Service, who: Account, a: bytes, b: bytes, threshold: float | None
) -> dict[str, Any]:
    """Needs no index: no engine lock, a pipeline of its own (the audit log serialises its
    own appends)."""
    with svc.pipelines.borrow() as pipeline:
        result = svc.engine.verify(a, b, threshold, pipeline=pipeline, caller=caller_of(who))
        return {**to_jsonable(result), "measured_fmr": measured_fmr(result.threshold)}
