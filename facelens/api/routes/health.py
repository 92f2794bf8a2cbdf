"""Liveness, readiness and metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from facelens.api.deps import ServiceDep, allowed
from facelens.api.params import binary_response
from facelens.api.schemas import HealthOut, ReadyOut
from facelens.security.accounts import Action
from facelens.types import Account

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
async def healthz() -> dict[str, str]:  # on the loop: needs no thread, however busy
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadyOut)
def readyz(svc: ServiceDep) -> dict[str, Any]:
    return {"status": "ready", "faces_indexed": svc.engine.index.count()}


@router.get("/metrics", **binary_response("text/plain", "Prometheus metrics, text format."))
def metrics(
    svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.MANAGE_ACCOUNTS))]
) -> Response:
    svc.metrics.faces_indexed.set(svc.engine.index.count())
    return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)
