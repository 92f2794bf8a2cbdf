"""The HTTP API: FastAPI over the engine, every route but health and readiness behind an API key
and a role (``facelens.accounts``), errors as problem details (``facelens.api.problems``).

One engine per process. The engine is not thread-safe and FastAPI runs plain ``def`` routes in
a thread pool, so engine calls are serialised by a lock (throughput comes from search being
milliseconds; ingest at scale goes through ``facelens ingest``'s worker processes).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Header, Request, Response, UploadFile
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, Field

from facelens import __version__
from facelens.accounts import Action, Role, authenticate, authorise, create_account, may
from facelens.api import problems
from facelens.config import Settings
from facelens.engine import Engine
from facelens.errors import ImageTooLargeError, NotFoundError
from facelens.pipeline import FacePipeline
from facelens.types import Account, Provenance, SearchRecord, to_jsonable

_UPLOAD_CHUNK_BYTES = 1024 * 1024


class Metrics:
    """Prometheus metrics of one app (its own registry, so apps in one process never clash)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "facelens_http_requests", "HTTP requests", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "facelens_http_request_seconds", "HTTP request latency", ["route"],
            registry=self.registry,
        )  # fmt: skip
        self.search_latency = Histogram(
            "facelens_search_seconds", "Engine search latency", registry=self.registry
        )
        self.faces_indexed = Gauge(
            "facelens_faces_indexed", "Faces in the index", registry=self.registry
        )


class Service:
    def __init__(self, settings: Settings, pipeline: FacePipeline | None = None) -> None:
        self.settings = settings
        self.engine = Engine(settings, pipeline=pipeline)
        self.lock = threading.RLock()
        self.metrics = Metrics()
        self.uploads = settings.data_dir / "uploads"

    def close(self) -> None:
        with self.lock:
            self.engine.close()


# --- request and response bodies ------------------------------------------------------------


class AccountIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: Role


class CollectionIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


# --- dependencies (module level: FastAPI resolves annotations in the module's namespace) --


def service(request: Request) -> Service:
    found: Service = request.app.state.service
    return found


ServiceDep = Annotated[Service, Depends(service)]


def account(svc: ServiceDep, x_api_key: Annotated[str | None, Header()] = None) -> Account:
    return authenticate(svc.engine.store, x_api_key)


def allowed(action: Action) -> Callable[..., Account]:
    def check(who: Annotated[Account, Depends(account)]) -> Account:
        authorise(who, action)
        return who

    return check


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

    @app.middleware("http")
    async def measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        metrics: Metrics = request.app.state.service.metrics
        metrics.requests.labels(name, str(response.status_code)).inc()
        metrics.latency.labels(name).observe(time.perf_counter() - started)
        return response

    # --- health -----------------------------------------------------------------------

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz(svc: ServiceDep) -> dict[str, Any]:
        return {"status": "ready", "faces_indexed": svc.engine.index.count()}

    @app.get("/metrics", tags=["health"])
    def metrics(
        svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.MANAGE_ACCOUNTS))]
    ) -> Response:
        svc.metrics.faces_indexed.set(svc.engine.index.count())
        return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # --- accounts ---------------------------------------------------------------------

    @app.post("/accounts", status_code=201, tags=["accounts"])
    def post_account(
        body: AccountIn,
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.MANAGE_ACCOUNTS))],
    ) -> dict[str, Any]:
        """A new account; its key is in this response only."""
        with svc.lock:
            made, key = create_account(svc.engine.store, body.name, body.role)
        return {"account": to_jsonable(made), "key": key}

    @app.get("/accounts", tags=["accounts"])
    def get_accounts(
        svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.MANAGE_ACCOUNTS))]
    ) -> list[dict[str, Any]]:
        return [to_jsonable(a) for a in svc.engine.store.accounts()]

    # --- collections and images -------------------------------------------------------

    @app.get("/collections", tags=["collections"])
    def get_collections(
        svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.VIEW_COLLECTIONS))]
    ) -> list[str]:
        return svc.engine.store.collection_names()

    @app.post("/collections", status_code=201, tags=["collections"])
    def post_collection(
        body: CollectionIn,
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.MANAGE_COLLECTIONS))],
    ) -> dict[str, str]:
        with svc.lock:
            svc.engine.store.ensure_collection(body.name.strip())
        return {"name": body.name.strip()}

    @app.delete("/collections/{name}", tags=["collections"])
    def delete_collection(
        name: str,
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.MANAGE_COLLECTIONS))],
    ) -> dict[str, int]:
        with svc.lock:
            if name not in svc.engine.store.collection_names():
                raise NotFoundError(f"no collection named {name!r}")
            return {"faces_removed": svc.engine.delete(collection=name)}

    @app.post("/collections/{name}/images", status_code=201, tags=["images"])
    async def post_images(
        name: str,
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.INGEST))],
        files: Annotated[list[UploadFile], File(description="One or more photos.")],
        origin_url: Annotated[str | None, Form()] = None,
        page_url: Annotated[str | None, Form()] = None,
        licence_ref: Annotated[str | None, Form()] = None,
    ) -> dict[str, Any]:
        """Ingest uploaded photos into the collection: every face detected, checked, embedded
        and indexed. One bad file is reported and the others go on."""
        saved = [await _save_upload(svc, upload) for upload in files]
        provenance = Provenance(origin_url=origin_url, page_url=page_url, licence_ref=licence_ref)
        with svc.lock:
            report = svc.engine.ingest(saved, name, provenance=provenance, workers=1)
        return dict(to_jsonable(report))

    # --- search -----------------------------------------------------------------------

    @app.post("/searches", tags=["search"])
    async def post_search(
        svc: ServiceDep,
        who: Annotated[Account, Depends(allowed(Action.SEARCH))],
        image: Annotated[UploadFile, File(description="The probe photo.")],
        purpose: Annotated[str, Form(min_length=3, description="Why you search (logged).")],
        case_ref: Annotated[str, Form(min_length=1, description="Case reference (logged).")],
        top_k: Annotated[int | None, Form(ge=1, le=1000)] = None,
        threshold: Annotated[float | None, Form(ge=-1.0, le=1.0)] = None,
        collections: Annotated[str | None, Form(description="Comma-separated names.")] = None,
    ) -> dict[str, Any]:
        """Every face in the probe with its most similar gallery faces and their sources."""
        data = await _read_upload(svc, image)
        names = [c.strip() for c in (collections or "").split(",") if c.strip()]
        started = time.perf_counter()
        with svc.lock:
            result = svc.engine.search(data, top_k, threshold, names or None)
            svc.metrics.search_latency.observe(time.perf_counter() - started)
            record = SearchRecord(
                account_id=who.id,
                account_name=who.name,
                purpose=purpose.strip(),
                case_ref=case_ref.strip(),
                collections=names,
                probe_faces=len(result.faces),
                results=sum(len(f.matches) for f in result.faces),
                matches=sum(m.is_match for f in result.faces for m in f.matches),
                threshold=result.threshold,
                searched_at=datetime.now(UTC),
            )
            search_id = svc.engine.store.log_search(record)
        return {"search_id": search_id, **to_jsonable(result)}

    @app.get("/searches", tags=["search"])
    def get_searches(
        svc: ServiceDep, who: Annotated[Account, Depends(account)], limit: int = 100
    ) -> list[dict[str, Any]]:
        """The search log: analysts see their own searches, admins and auditors everyone's."""
        if may(who, Action.READ_ALL_SEARCHES):
            owner = None
        else:
            authorise(who, Action.READ_OWN_SEARCHES)
            owner = who.id
        return [to_jsonable(r) for r in svc.engine.store.search_log(owner, limit)]

    @app.post("/verifications", tags=["search"])
    async def post_verification(
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.SEARCH))],
        first: Annotated[UploadFile, File()],
        second: Annotated[UploadFile, File()],
        threshold: Annotated[float | None, Form(ge=-1.0, le=1.0)] = None,
    ) -> dict[str, Any]:
        """Are the largest faces of two photos the same person?"""
        a, b = await _read_upload(svc, first), await _read_upload(svc, second)
        with svc.lock:
            return dict(to_jsonable(svc.engine.verify(a, b, threshold)))

    return app


async def _read_upload(svc: Service, upload: UploadFile) -> bytes:
    """The upload's bytes, refused past ``max_image_bytes`` without reading the rest."""
    limit = svc.settings.max_image_bytes
    chunks, size = [], 0
    while chunk := await upload.read(_UPLOAD_CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            raise ImageTooLargeError(
                f"{upload.filename}: larger than max_image_bytes ({limit} bytes)"
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def _save_upload(svc: Service, upload: UploadFile) -> Path:
    """Keep an uploaded photo under the data folder (by content hash): it is the source that
    search results point to."""
    data = await _read_upload(svc, upload)
    suffix = Path(upload.filename or "").suffix.lower()[:8]
    svc.uploads.mkdir(parents=True, exist_ok=True)
    path = svc.uploads / f"{hashlib.sha256(data).hexdigest()}{suffix}"
    if not path.exists():
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path
