"""Web sessions: the browser interface signs in with an API key and gets a cookie."""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response

from facelens.api.deps import CSRF_COOKIE, SESSION_COOKIE, ServiceDep, account, actor_name
from facelens.api.schemas import SessionOut, SignedInOut, SignedOutOut
from facelens.api.service import WebSession
from facelens.security.accounts import PERMISSIONS, Role
from facelens.types import Account, to_jsonable

router = APIRouter(tags=["accounts"])


@router.post("/session", response_model=SignedInOut)
def post_session(
    request: Request, svc: ServiceDep, response: Response, key: Annotated[str, Form()]
) -> dict[str, Any]:
    """Sign in with an API key: an HTTP-only session cookie, and a CSRF token (also in a
    readable cookie) that requests changing anything must send as X-CSRF-Token."""
    who = svc.engine.authenticate(key)
    request.state.audit_actor = actor_name(who)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    lifetime_s = svc.settings.session_lifetime_s
    svc.sessions[token] = WebSession(who.id, csrf, time.time() + lifetime_s)
    cookie = {"max_age": lifetime_s, "samesite": "strict", "path": "/"}
    response.set_cookie(SESSION_COOKIE, token, httponly=True, **cookie)  # type: ignore[arg-type]
    response.set_cookie(CSRF_COOKIE, csrf, httponly=False, **cookie)  # type: ignore[arg-type]
    return {"account": to_jsonable(who), "csrf_token": csrf}


@router.get("/session", response_model=SessionOut)
def get_session(who: Annotated[Account, Depends(account)]) -> dict[str, Any]:
    """Who is signed in, and what their role may do."""
    return {"account": to_jsonable(who), "may": sorted(PERMISSIONS[Role(who.role)])}


@router.delete("/session", response_model=SignedOutOut)
def delete_session(request: Request, svc: ServiceDep, response: Response) -> dict[str, str]:
    svc.sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return {"status": "signed out"}
