"""Retention runs and the transparency report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from facelens.api.deps import ServiceDep, actor_name, allowed
from facelens.api.params import Moment, aware
from facelens.api.schemas import RetentionReportOut, TransparencyReportOut
from facelens.privacy.retention import run_retention
from facelens.security.accounts import Action
from facelens.types import Account, to_jsonable

router = APIRouter()


@router.post("/retention/runs", tags=["retention"], response_model=RetentionReportOut)
def post_retention_run(
    svc: ServiceDep, who: Annotated[Account, Depends(allowed(Action.RUN_RETENTION))]
) -> dict[str, Any]:
    """Destroy now what is past its retention period (the server also does so every
    retention_interval_s)."""
    with svc.lock:
        return dict(to_jsonable(run_retention(svc.engine, actor=actor_name(who))))


@router.get("/reports/transparency", tags=["reports"], response_model=TransparencyReportOut)
def get_transparency_report(
    svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.READ_REPORTS))], since: Moment
) -> dict[str, Any]:
    """Counts since ``since``: searches by purpose, subject requests by outcome,
    retention deletions, refusals by rule."""
    return dict(to_jsonable(svc.engine.transparency_report(aware(since) or since)))
