"""What routes depend on, as FastAPI dependencies: the service, the caller (by API key or web
session, with its CSRF check), the caller's request budget and role, and the caller as the
engine's ``Caller``.

At module level: FastAPI resolves the annotations of dependencies in their module's namespace.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, Request

from facelens.api.service import Service
from facelens.errors import AuthenticationError, PermissionDeniedError
from facelens.security.accounts import Action, authorise
from facelens.types import Account, Caller

SESSION_COOKIE = "facelens_session"
CSRF_COOKIE = "facelens_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def service(request: Request) -> Service:
    found: Service = request.app.state.service
    return found


ServiceDep = Annotated[Service, Depends(service)]


def account(
    request: Request,
    svc: ServiceDep,
    x_api_key: Annotated[str | None, Header()] = None,
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> Account:
    """The caller (also named in the audit log)."""
    who = _caller(request, svc, x_api_key, x_csrf_token)
    request.state.audit_actor = actor_name(who)
    return who


def actor_name(who: Account) -> str:
    return f"account:{who.id} {who.name}"


def caller_of(who: Account) -> Caller:
    """The account as the engine's caller (its searches also go in the search log)."""
    return Caller(actor_name(who), who.id)


def _caller(
    request: Request, svc: Service, x_api_key: str | None, x_csrf_token: str | None
) -> Account:
    """By API key, or by the web interface's session cookie, whose requests that change
    anything must also carry the session's CSRF token."""
    token = request.cookies.get(SESSION_COOKIE)
    if x_api_key is not None or token is None:
        return svc.engine.authenticate(x_api_key)
    session = svc.sessions.get(token)
    if session is None or session.expires_at < time.time():
        svc.sessions.pop(token, None)
        raise AuthenticationError("the session has ended; sign in again")
    if request.method not in SAFE_METHODS and not hmac.compare_digest(
        x_csrf_token or "", session.csrf_token
    ):
        raise PermissionDeniedError("missing or wrong CSRF token (header X-CSRF-Token)")
    found = svc.engine.account(session.account_id)
    if found is None or found.disabled:
        raise AuthenticationError("this account no longer exists or is disabled")
    return found


def limited(
    request: Request, svc: ServiceDep, who: Annotated[Account, Depends(account)]
) -> Account:
    """The caller, within their request budget (``rate_limit_per_minute``, per account)."""
    svc.rate_limiter.check(who.id, svc.settings.rate_limit_per_minute)
    return who


def allowed(action: Action) -> Callable[..., Account]:
    """A dependency: the caller, within budget, whose role may do ``action`` (a search also
    within the jurisdiction policy)."""

    def check(svc: ServiceDep, who: Annotated[Account, Depends(limited)]) -> Account:
        authorise(who, action)
        if action == Action.SEARCH:
            svc.engine.jurisdiction_policy.check_search(who.jurisdiction)
        return who

    return check
