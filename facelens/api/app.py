"""The HTTP API: FastAPI over the engine, every route but health and readiness behind an API key
and a role (``facelens.security.accounts``), errors as problem details (``facelens.api.problems``).

One engine per process (``facelens.api.service``). No engine call runs on the event loop
(``async`` routes hand them to the thread pool), so /healthz answers however busy the engine
is. Ingest at scale goes through ``facelens ingest``'s worker processes.

The routes are in ``facelens.api.routes``, one router per resource; what they depend on (the
service, the caller and their role) in ``facelens.api.deps``; what every request goes through
(NUL check, budgets, metrics, audit) in ``facelens.api.middleware``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from facelens import __version__
from facelens.api import middleware, problems
from facelens.api.routes import (
    accounts,
    audit,
    collections,
    consent,
    faces,
    health,
    images,
    jobs,
    people,
    persons,
    reports,
    search,
    sessions,
    subject_requests,
    ui,
)
from facelens.api.service import Service
from facelens.config import Settings
from facelens.pipeline.analyse import FacePipeline

#: In the order the API documents them (and matches them).
ROUTERS = (
    ui,
    health,
    sessions,
    audit,
    accounts,
    collections,
    images,
    jobs,
    persons,
    people,
    faces,
    search,
    consent,
    subject_requests,
    reports,
)


def create_app(settings: Settings, pipeline: FacePipeline | None = None) -> FastAPI:
    """The application for the data folder in ``settings`` (opened at start-up; ``pipeline``
    lets tests share loaded models)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.service = Service(settings, pipeline)
        try:
            yield
        finally:
            app.state.service.close()

    app = FastAPI(
        title="facelens",
        version=__version__,
        description="Face search over image collections you lawfully hold. Every route but "
        "/healthz and /readyz needs an API key in the X-API-Key header.",
        lifespan=lifespan,
    )
    problems.install(app)
    ui.mount(app)
    middleware.install(app)
    for module in ROUTERS:
        app.include_router(module.router)
    return app
