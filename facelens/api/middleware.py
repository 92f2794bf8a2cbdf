"""What every request goes through: NUL bytes refused in the path and query, the per-address
budget of requests without an account, metrics, and the audit log (or the anonymous tally)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from facelens.api import problems
from facelens.api.deps import SAFE_METHODS
from facelens.api.service import Service

#: Reads that are security-relevant and so audited (every other method is audited always;
#: requests without an account are tallied, ``AnonymousTally``).
AUDITED_READS = frozenset(
    {
        "/faces/{face_id}/source",
        # Browsing personal data (who looked at which faces, also outside a search).
        "/faces/{face_id}/thumbnail",
        "/faces/{face_id}",
        "/faces",
        "/images/{image_id}",
        "/collections/{name}/images",
        "/persons",
        "/proposals",
        "/searches",
        "/audit",
        "/audit/verify",
        "/audit/checkpoint",
        "/consents",
        "/subject-requests",
        "/reports/transparency",
    }
)
#: Neither counted nor refused per client address: health probes and the static interface.
UNLIMITED_PATHS = frozenset({"/", "/healthz", "/readyz"})

CallNext = Callable[[Request], Awaitable[Response]]


async def refuse_nul(request: Request, call_next: CallNext) -> Response:
    """A NUL byte in the path or query is refused before any route sees it (bodies: see
    ``facelens.api.params.Body``)."""
    if "\x00" in request.url.path or b"%00" in request.scope["query_string"].lower():
        detail = "the path or query holds a NUL byte (%00), which no name or value may hold"
        return problems.problem(request, 400, "invalid_request", detail)
    return await call_next(request)


async def measure_and_audit(request: Request, call_next: CallNext) -> Response:
    started = time.perf_counter()
    svc: Service = request.app.state.service
    address = request.client.host if request.client else "unknown"
    limited = request.url.path not in UNLIMITED_PATHS and not request.url.path.startswith("/ui/")
    budget = svc.settings.anonymous_rate_limit_per_minute
    retry = svc.anonymous_limiter.retry_after(address, budget) if limited else None
    if retry is not None:
        # Every request of the address, keyed or not: else key guessing would go on.
        detail = (
            f"too many requests without a valid key or sign-in from {address}: "
            f"{budget} a minute (anonymous_rate_limit_per_minute); retry in {retry} s"
        )
        response: Response = problems.problem(
            request, 429, "rate_limited", detail, retry_after_s=retry
        )
    else:
        response = await call_next(request)
    route = request.scope.get("route")
    name = getattr(route, "path", "unmatched")
    svc.metrics.requests.labels(name, str(response.status_code)).inc()
    svc.metrics.latency.labels(name).observe(time.perf_counter() - started)
    actor = getattr(request.state, "audit_actor", None)
    if actor is None and limited:
        if retry is None:
            svc.anonymous_limiter.record(address)
        # Tallied per address and minute, not one entry each (a flood cannot fill the log).
        # Refused before routing: named by its path, cut short (metrics keep "unmatched",
        # so that no caller can grow their label set).
        seen = name if retry is None else request.url.path[:100]
        svc.anonymous.add(address, f"{request.method} {seen}", response.status_code)
    elif request.method not in SAFE_METHODS or name in AUDITED_READS:
        details: dict[str, Any] = {"status": response.status_code}
        refused = getattr(request.state, "refused_rule", None)
        if refused is not None:
            details["refused"] = refused
        await run_in_threadpool(
            svc.engine.audit,
            actor or "anonymous",
            f"{request.method} {name}",
            request.url.path,
            details,
        )
    return response


def install(app: FastAPI) -> None:
    """In this order, as before: the last added runs first, so measuring and auditing wraps
    the NUL check (its 400s are counted and audited too)."""
    app.middleware("http")(refuse_nul)
    app.middleware("http")(measure_and_audit)
