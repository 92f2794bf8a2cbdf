"""Consent records, and enrolment of a person (in a consent collection, against their
consent)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from facelens.api.deps import ServiceDep, actor_name, allowed
from facelens.api.params import Body, DbId, Moment, aware
from facelens.api.schemas import ConsentOut, PersonOut, WithdrawalOut
from facelens.api.service import Service
from facelens.api.uploads import save_upload
from facelens.privacy.policy import LegalBasis
from facelens.security.accounts import Action
from facelens.types import Account, to_jsonable

router = APIRouter()
ConsentManager = Annotated[Account, Depends(allowed(Action.MANAGE_CONSENT))]


class ConsentIn(Body):
    subject_ref: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=3)
    scope: list[str] = Field(min_length=1, description="Collections the consent covers.")
    evidence_ref: str = Field(min_length=1, description="Where the signed consent is kept.")
    given_at: Moment | None = None
    expires_at: Moment | None = None


@router.post("/consents", status_code=201, tags=["consent"], response_model=ConsentOut)
def post_consent(
    body: ConsentIn, request: Request, svc: ServiceDep, _: ConsentManager
) -> dict[str, Any]:
    """Record a subject's consent, with the evidence for it."""
    with svc.lock:
        consent = svc.engine.add_consent(
            subject_ref=body.subject_ref.strip(),
            purpose=body.purpose.strip(),
            scope=body.scope,
            given_at=aware(body.given_at) or datetime.now(UTC),
            expires_at=aware(body.expires_at),
            evidence_ref=body.evidence_ref.strip(),
        )
    return dict(to_jsonable(consent))


@router.get("/consents", tags=["consent"], response_model=list[ConsentOut])
def get_consents(svc: ServiceDep, _: ConsentManager) -> list[dict[str, Any]]:
    return [to_jsonable(c) for c in svc.engine.consents()]


@router.post("/consents/{consent_id}/withdraw", tags=["consent"], response_model=WithdrawalOut)
def post_consent_withdraw(consent_id: DbId, svc: ServiceDep, who: ConsentManager) -> dict[str, Any]:
    """Withdraw the consent: every face enrolled under it is erased at once."""
    with svc.lock:
        erased = svc.engine.withdraw_consent(consent_id, actor_name(who))
    return {"faces_erased": erased.face_ids.tolist(), "images_erased": erased.image_ids}


@router.post(
    "/collections/{name}/enrolments", status_code=201, tags=["persons"], response_model=PersonOut
)
async def post_enrolment(
    name: str,
    svc: ServiceDep,
    _: Annotated[Account, Depends(allowed(Action.INGEST))],
    person_name: Annotated[str, Form(min_length=1, max_length=200)],
    photos: Annotated[list[UploadFile], File(description="Photos of the person.")],
    consent_id: Annotated[DbId | None, Form()] = None,
) -> dict[str, Any]:
    """Enrol a person with the main face of each photo; in a consent collection, against
    their valid consent record (and only their face is kept)."""
    await run_in_threadpool(_check_enrolment, svc, name, consent_id)
    saved = [await save_upload(svc, upload) for upload in photos]
    person = await run_in_threadpool(
        svc.locked,
        svc.engine.enrol,
        person_name.strip(),
        saved,
        collection=name,
        consent_id=consent_id,
    )
    return dict(to_jsonable(person))


def _check_enrolment(svc: Service, collection: str, consent_id: int | None) -> None:
    """Refused before anything is kept."""
    with svc.lock:
        policy = svc.engine.policy_for_ingest(collection)
        if policy.basis == LegalBasis.CONSENT:
            svc.engine.valid_consent(consent_id, collection)
