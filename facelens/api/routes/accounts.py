"""Accounts, and the settings the server runs with."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import Field

from facelens.api.deps import ServiceDep, allowed
from facelens.api.params import Body
from facelens.api.schemas import AccountOut, NewAccountOut, SettingsOut
from facelens.security.accounts import Action, Role
from facelens.types import Account, to_jsonable

router = APIRouter(tags=["accounts"])
Admin = Annotated[Account, Depends(allowed(Action.MANAGE_ACCOUNTS))]


class AccountIn(Body):
    name: str = Field(min_length=1, max_length=200)
    role: Role
    jurisdiction: str | None = Field(
        default=None, description="Where the account operates (ISO 3166, e.g. GB)."
    )


@router.post("/accounts", status_code=201, response_model=NewAccountOut)
def post_account(body: AccountIn, svc: ServiceDep, _: Admin) -> dict[str, Any]:
    """A new account; its key is in this response only."""
    with svc.lock:
        made, key = svc.engine.create_account(body.name, body.role, body.jurisdiction)
    return {"account": to_jsonable(made), "key": key}


@router.get("/settings", response_model=SettingsOut)
def get_settings(svc: ServiceDep, _: Admin) -> dict[str, Any]:
    """The settings this server runs with (set at start, in FACELENS_* variables)."""
    return dict(svc.settings.model_dump(mode="json"))


@router.get("/accounts", response_model=list[AccountOut])
def get_accounts(svc: ServiceDep, _: Admin) -> list[dict[str, Any]]:
    return [to_jsonable(a) for a in svc.engine.accounts()]
