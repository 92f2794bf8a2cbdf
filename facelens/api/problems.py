"""Errors as RFC 9457 problem details: the one place that maps facelens errors to HTTP."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from facelens.errors import (
    AuthenticationError,
    ConflictError,
    CorruptImageError,
    DataFolderInUseError,
    FacelensError,
    ImageNotFoundError,
    ImageTooLargeError,
    InvalidArgumentError,
    ModelMismatchError,
    NoFaceFoundError,
    NotFoundError,
    PermissionDeniedError,
    QuarantinedTemplatesError,
    RateLimitedError,
    RefusedError,
    StoreError,
    UnsupportedImageError,
)

PROBLEM_JSON = "application/problem+json"

#: Most specific first: the first class an error is an instance of gives its status.
STATUS_BY_ERROR: list[tuple[type[FacelensError], int]] = [
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (RefusedError, 403),
    (ImageNotFoundError, 404),
    (NotFoundError, 404),
    (ConflictError, 409),
    (ModelMismatchError, 409),
    (DataFolderInUseError, 409),
    (QuarantinedTemplatesError, 409),
    (ImageTooLargeError, 413),
    (UnsupportedImageError, 415),
    (CorruptImageError, 422),
    (NoFaceFoundError, 422),
    (InvalidArgumentError, 422),
    (RateLimitedError, 429),
    (StoreError, 503),
]


def status_for(error: FacelensError) -> int:
    return next((status for kind, status in STATUS_BY_ERROR if isinstance(error, kind)), 500)


def problem(request: Request, status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    body = {
        "type": f"/problems/{code}",
        "title": code.replace("_", " "),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    headers = {"WWW-Authenticate": 'ApiKey header="X-API-Key"'} if status == 401 else {}
    if "retry_after_s" in extra:
        headers["Retry-After"] = str(extra["retry_after_s"])
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install(app: FastAPI) -> None:
    async def facelens_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, FacelensError)
        extra: dict[str, Any] = {}
        if isinstance(exc, RateLimitedError):
            extra["retry_after_s"] = exc.retry_after_s
        if isinstance(exc, RefusedError):
            extra["rule"] = exc.rule
            if not exc.audited:  # else the engine logged it already: counted once
                request.state.refused_rule = exc.rule  # the audit entry counts refusals by rule
        return problem(request, status_for(exc), exc.code, str(exc), **extra)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": ".".join(str(p) for p in e["loc"][1:]), "message": e["msg"]}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(request, 422, "invalid_request", detail, errors=errors)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return problem(request, exc.status_code, "http_error", str(exc.detail))

    app.add_exception_handler(FacelensError, facelens_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
