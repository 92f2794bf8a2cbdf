"""The audit log: entries, the chain check, and checkpoints to keep elsewhere."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from facelens.api.deps import ServiceDep, allowed
from facelens.api.params import PageLimit, PageOffset
from facelens.api.schemas import AuditCheckOut, AuditEntryOut, CheckpointOut
from facelens.security.accounts import Action
from facelens.types import Account, to_jsonable

router = APIRouter(tags=["audit"])
Auditor = Annotated[Account, Depends(allowed(Action.READ_AUDIT))]


@router.get("/audit", response_model=list[AuditEntryOut])
def get_audit(
    svc: ServiceDep, _: Auditor, after_id: PageOffset = 0, limit: PageLimit = 100
) -> list[dict[str, Any]]:
    """Audit entries after ``after_id``, oldest first, each with its chain hashes."""
    return [to_jsonable(e) for e in svc.engine.audit_entries(after_id, limit)]


@router.get("/audit/verify", response_model=AuditCheckOut)
def get_audit_verify(svc: ServiceDep, _: Auditor) -> dict[str, Any]:
    """Check the whole keyed chain: is any entry edited, deleted or out of order?"""
    return dict(to_jsonable(svc.engine.verify_audit()))


@router.get("/audit/checkpoint", response_model=CheckpointOut)
def get_audit_checkpoint(svc: ServiceDep, _: Auditor) -> dict[str, Any]:
    """The log's head now, MACed with the audit key: keep it apart from the service and
    check the log against it later (``facelens audit verify --against FILE``)."""
    return svc.engine.audit_checkpoint().as_dict()
