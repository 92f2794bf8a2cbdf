"""The HTTP API: FastAPI over the engine, every route but health and readiness behind an API key
and a role (``facelens.security.accounts``), errors as problem details (``facelens.api.problems``).

One engine per process. The engine is not thread-safe and FastAPI runs plain ``def`` routes in
a thread pool, so engine calls are serialised by a lock. No engine call runs on the event loop
(``async`` routes hand them to the thread pool), so /healthz answers however busy the engine
is. The costly, stateless part of a search (decode, detect, align, embed) runs outside the
lock, on a pipeline of its own (``PipelinePool``): dlib releases the GIL there, so searches use
every core; only the index and store part holds the lock (milliseconds). Ingest at scale goes
through ``facelens ingest``'s worker processes.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Request, Response, UploadFile
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from PIL import Image as PILImage
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    generate_latest,
)
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from facelens import __version__
from facelens.api import problems
from facelens.api.deps import (
    CSRF_COOKIE,
    SAFE_METHODS,
    SESSION_COOKIE,
    ServiceDep,
    account,
    actor_name,
    allowed,
    caller_of,
)
from facelens.api.params import MAX_PAGE, Body, DbId, Moment, PageLimit, PageOffset, aware
from facelens.api.service import Service, WebSession
from facelens.config import Settings
from facelens.errors import (
    FolderNotAllowedError,
    ImageTooLargeError,
    InvalidArgumentError,
    NotFoundError,
)
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.crops import face_crop, jpeg_bytes
from facelens.privacy.policy import (
    MAX_RETENTION_DAYS,
    CollectionPolicy,
    LegalBasis,
)
from facelens.privacy.retention import run_retention
from facelens.privacy.rights import (
    ACCESS,
    ERASURE,
    RequestReview,
    access_report,
    candidate_crop,
    confirm,
    export_access_report,
    open_request,
    review,
)
from facelens.security.accounts import (
    PERMISSIONS,
    Action,
    Role,
    authorise,
    may,
)
from facelens.store.base import FaceRecord
from facelens.types import (
    Account,
    IngestReport,
    Provenance,
    to_jsonable,
)
from facelens.web import STATIC_DIR

_UPLOAD_CHUNK_BYTES = 1024 * 1024
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
        "/searches",
        "/audit",
        "/audit/verify",
        "/audit/checkpoint",
        "/consents",
        "/subject-requests",
        "/reports/transparency",
    }
)
THUMBNAIL_PX = 160
#: Neither counted nor refused per client address: health probes and the static interface.
UNLIMITED_PATHS = frozenset({"/", "/healthz", "/readyz"})

# --- request and response bodies ------------------------------------------------------------


class AccountIn(Body):
    name: str = Field(min_length=1, max_length=200)
    role: Role
    jurisdiction: str | None = Field(
        default=None, description="Where the account operates (ISO 3166, e.g. GB)."
    )


class PolicyIn(Body):
    """A collection's legal basis (``facelens.privacy.policy.CollectionPolicy``)."""

    basis: LegalBasis
    basis_text: str | None = Field(default=None, description="Required for the basis 'other'.")
    jurisdictions: list[str] = Field(
        min_length=1, description="Jurisdictions the data concerns (ISO 3166: GB, US-IL, EU)."
    )
    purpose: str = Field(min_length=3)
    retention_days: int = Field(
        ge=1,
        le=MAX_RETENTION_DAYS,
        description="Days data is kept after ingest (100 years at most).",
    )
    seal_locations: bool = Field(
        default=False, description="Seal the images' locations (paths often name the person)."
    )

    def policy(self) -> CollectionPolicy:
        return CollectionPolicy.parse(
            self.basis.value, self.jurisdictions, self.purpose, self.retention_days,
            self.basis_text, self.seal_locations,
        )  # fmt: skip


class CollectionIn(PolicyIn):
    name: str = Field(min_length=1, max_length=200)


class ConsentIn(Body):
    subject_ref: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=3)
    scope: list[str] = Field(min_length=1, description="Collections the consent covers.")
    evidence_ref: str = Field(min_length=1, description="Where the signed consent is kept.")
    given_at: Moment | None = None
    expires_at: Moment | None = None


class PersonIn(Body):
    name: str = Field(min_length=1, max_length=200)


class FaceIdsIn(Body):
    face_ids: list[DbId] = Field(min_length=1, max_length=MAX_PAGE)


class DecisionIn(Body):
    face_ids: list[DbId] = Field(
        default_factory=list,
        max_length=100_000,
        description="The candidates confirmed as the requester's; every other is rejected.",
    )


class MergeIn(Body):
    other_person_id: DbId


class IngestJobIn(Body):
    folder: str = Field(min_length=1, description="A folder under an allowed ingest root.")
    collection: str = Field(min_length=1, max_length=200)
    licence_ref: str | None = None


class PurposeIn(Body):
    # Checked by the engine (``Engine.check_search_purpose``): missing is a refusal, not a 422.
    purpose: str = Field(default="", description="Why you search (logged).")
    case_ref: str = Field(default="", description="Case reference (logged).")
    top_k: int | None = Field(default=None, ge=1, le=1000)
    threshold: float | None = Field(default=None, ge=-1.0, le=1.0)
    collections: list[str] = Field(default_factory=list)


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
    app.mount("/ui", StaticFiles(directory=STATIC_DIR, html=True), name="ui")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @app.middleware("http")
    async def refuse_nul(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """A NUL byte in the path or query is refused before any route sees it (bodies: see
        ``Body``)."""
        if "\x00" in request.url.path or b"%00" in request.scope["query_string"].lower():
            detail = "the path or query holds a NUL byte (%00), which no name or value may hold"
            return problems.problem(request, 400, "invalid_request", detail)
        return await call_next(request)

    @app.middleware("http")
    async def measure_and_audit(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        svc: Service = request.app.state.service
        address = request.client.host if request.client else "unknown"
        limited = request.url.path not in UNLIMITED_PATHS and not request.url.path.startswith(
            "/ui/"
        )
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

    # --- health -----------------------------------------------------------------------

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:  # on the loop: needs no thread, however busy
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

    # --- web sessions -----------------------------------------------------------------

    @app.post("/session", tags=["accounts"])
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

    @app.get("/session", tags=["accounts"])
    def get_session(who: Annotated[Account, Depends(account)]) -> dict[str, Any]:
        """Who is signed in, and what their role may do."""
        return {"account": to_jsonable(who), "may": sorted(PERMISSIONS[Role(who.role)])}

    @app.delete("/session", tags=["accounts"])
    def delete_session(request: Request, svc: ServiceDep, response: Response) -> dict[str, str]:
        svc.sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
        return {"status": "signed out"}

    # --- audit ------------------------------------------------------------------------

    @app.get("/audit", tags=["audit"])
    def get_audit(
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.READ_AUDIT))],
        after_id: PageOffset = 0,
        limit: PageLimit = 100,
    ) -> list[dict[str, Any]]:
        """Audit entries after ``after_id``, oldest first, each with its chain hashes."""
        return [to_jsonable(e) for e in svc.engine.audit_entries(after_id, limit)]

    @app.get("/audit/verify", tags=["audit"])
    def get_audit_verify(
        svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.READ_AUDIT))]
    ) -> dict[str, Any]:
        """Check the whole keyed chain: is any entry edited, deleted or out of order?"""
        return dict(to_jsonable(svc.engine.verify_audit()))

    @app.get("/audit/checkpoint", tags=["audit"])
    def get_audit_checkpoint(
        svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.READ_AUDIT))]
    ) -> dict[str, Any]:
        """The log's head now, MACed with the audit key: keep it apart from the service and
        check the log against it later (``facelens audit verify --against FILE``)."""
        return svc.engine.audit_checkpoint().as_dict()

    # --- accounts ---------------------------------------------------------------------

    @app.post("/accounts", status_code=201, tags=["accounts"])
    def post_account(
        body: AccountIn,
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.MANAGE_ACCOUNTS))],
    ) -> dict[str, Any]:
        """A new account; its key is in this response only."""
        with svc.lock:
            made, key = svc.engine.create_account(body.name, body.role, body.jurisdiction)
        return {"account": to_jsonable(made), "key": key}

    @app.get("/settings", tags=["accounts"])
    def get_settings(
        svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.MANAGE_ACCOUNTS))]
    ) -> dict[str, Any]:
        """The settings this server runs with (set at start, in FACELENS_* variables)."""
        return dict(svc.settings.model_dump(mode="json"))

    @app.get("/accounts", tags=["accounts"])
    def get_accounts(
        svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.MANAGE_ACCOUNTS))]
    ) -> list[dict[str, Any]]:
        return [to_jsonable(a) for a in svc.engine.accounts()]

    # --- collections and images -------------------------------------------------------

    @app.get("/collections", tags=["collections"])
    def get_collections(
        svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.VIEW_COLLECTIONS))]
    ) -> list[str]:
        return svc.engine.collection_names()

    @app.post("/collections", status_code=201, tags=["collections"])
    def post_collection(
        body: CollectionIn,
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.MANAGE_COLLECTIONS))],
    ) -> dict[str, Any]:
        """A collection, with the legal basis, jurisdictions, purpose and retention period
        its data is held under (ingest into a collection without them is refused)."""
        policy = body.policy()
        with svc.lock:
            svc.engine.create_collection(body.name.strip(), policy)
        return {"name": body.name.strip(), "policy": to_jsonable(policy)}

    @app.put("/collections/{name}/policy", tags=["collections"])
    def put_collection_policy(
        name: str,
        body: PolicyIn,
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.MANAGE_COLLECTIONS))],
    ) -> dict[str, Any]:
        """Declare or change the collection's legal basis (logged)."""
        policy = body.policy()
        with svc.lock:
            svc.engine.set_collection_policy(name, policy)
        return {"name": name, "policy": to_jsonable(policy)}

    @app.get("/collections/{name}", tags=["collections"])
    def get_collection(
        name: str,
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.VIEW_COLLECTIONS))],
    ) -> dict[str, Any]:
        images, faces = svc.engine.collection_counts(name)
        policy = svc.engine.collection_policy(name)
        return {
            "name": name,
            "images": images,
            "faces_indexed": faces,
            "policy": to_jsonable(policy),
        }

    @app.delete("/collections/{name}", tags=["collections"])
    def delete_collection(
        name: str,
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.MANAGE_COLLECTIONS))],
    ) -> dict[str, int]:
        with svc.lock:
            if name not in svc.engine.collection_names():
                raise NotFoundError(f"no collection named {name!r}")
            return {"faces_removed": svc.engine.delete(collection=name)}

    @app.post("/collections/{name}/images", status_code=201, tags=["images"])
    async def post_images(
        name: str,
        svc: ServiceDep,
        response: Response,
        who: Annotated[Account, Depends(allowed(Action.INGEST))],
        files: Annotated[list[UploadFile], File(description="One or more photos.")],
        origin_url: Annotated[str | None, Form()] = None,
        page_url: Annotated[str | None, Form()] = None,
        licence_ref: Annotated[str | None, Form()] = None,
    ) -> dict[str, Any]:
        """Ingest uploaded photos into the collection: every face detected, checked, embedded
        and indexed. One bad file is reported and the others go on. ``files`` says what became
        of each upload (``stored``, ``duplicate``, ``failed`` with the error, ``suppressed``);
        201 when at least one image was stored, 200 (with the same report) when none was."""
        await run_in_threadpool(svc.locked, svc.engine.check_bulk_ingest, name)
        saved = [(upload.filename or "", await _save_upload(svc, upload)) for upload in files]
        provenance = Provenance(origin_url=origin_url, page_url=page_url, licence_ref=licence_ref)
        report, outcomes = await run_in_threadpool(
            _ingest_uploads, svc, who, name, saved, provenance
        )
        if not report.images_ingested:
            response.status_code = 200  # nothing was created
        return {**to_jsonable(report), "files": outcomes}

    @app.get("/collections/{name}/images", tags=["images"])
    def get_images(
        name: str,
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.BROWSE))],
        offset: PageOffset = 0,
        limit: PageLimit = 100,
    ) -> list[dict[str, Any]]:
        return [to_jsonable(i) for i in svc.engine.images(name, offset, limit)]

    @app.get("/images/{image_id}", tags=["images"])
    def get_image(
        image_id: DbId,
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.BROWSE))],
    ) -> dict[str, Any]:
        return dict(to_jsonable(svc.engine.image_record(image_id)))

    @app.delete("/images/{image_id}", tags=["images"])
    def delete_image(
        image_id: DbId, svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.DELETE))]
    ) -> dict[str, int]:
        with svc.lock:
            svc.engine.image_record(image_id)  # 404 when unknown
            return {"faces_removed": svc.engine.delete(image=image_id)}

    @app.post("/jobs/ingest", status_code=202, tags=["images"])
    def post_ingest_job(
        body: IngestJobIn,
        svc: ServiceDep,
        who: Annotated[Account, Depends(allowed(Action.INGEST))],
    ) -> dict[str, Any]:
        """Ingest a server-side folder (under an allowed root) in the background."""
        folder = allowed_folder(body.folder, svc.settings.ingest_allowed_roots)
        with svc.lock:
            svc.engine.check_bulk_ingest(body.collection.strip())
        provenance = Provenance(licence_ref=body.licence_ref)
        job = svc.jobs.start(
            svc.engine, svc.lock, folder, body.collection.strip(), provenance, actor_name(who)
        )
        return job.describe()

    @app.get("/jobs/{job_id}", tags=["images"])
    def get_job(
        job_id: DbId, svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.INGEST))]
    ) -> dict[str, Any]:
        return svc.jobs.get(job_id).describe()

    # --- persons ----------------------------------------------------------------------

    @app.get("/persons", tags=["persons"])
    def get_persons(
        svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.BROWSE))]
    ) -> list[dict[str, Any]]:
        return [to_jsonable(p) for p in svc.engine.persons()]

    @app.post("/persons", status_code=201, tags=["persons"])
    def post_person(
        body: PersonIn, svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.INGEST))]
    ) -> dict[str, Any]:
        with svc.lock:
            return dict(to_jsonable(svc.engine.create_person(body.name.strip())))

    @app.patch("/persons/{person_id}", tags=["persons"])
    def patch_person(
        person_id: DbId,
        body: PersonIn,
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.INGEST))],
    ) -> dict[str, Any]:
        """Rename."""
        with svc.lock:
            return dict(to_jsonable(svc.engine.rename_person(person_id, body.name.strip())))

    @app.post("/persons/{person_id}/faces", tags=["persons"])
    def post_person_faces(
        person_id: DbId,
        body: FaceIdsIn,
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.INGEST))],
    ) -> dict[str, Any]:
        """Assign faces to the person."""
        with svc.lock:
            return dict(to_jsonable(svc.engine.assign_faces(person_id, body.face_ids)))

    @app.post("/persons/{person_id}/merge", tags=["persons"])
    def post_person_merge(
        person_id: DbId,
        body: MergeIn,
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.INGEST))],
    ) -> dict[str, Any]:
        """Move the other person's faces to this one and delete the other."""
        with svc.lock:
            merged = svc.engine.merge_persons(person_id, body.other_person_id)
            return dict(to_jsonable(merged))

    @app.delete("/persons/{person_id}", tags=["persons"])
    def delete_person(
        person_id: DbId, svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.DELETE))]
    ) -> dict[str, int]:
        """Delete the person and every face assigned to them (store and index)."""
        with svc.lock:
            return {"faces_removed": svc.engine.delete(person=person_id)}

    @app.post("/persons/{person_id}/searches", tags=["search"])
    def post_person_search(
        person_id: DbId,
        body: PurposeIn,
        svc: ServiceDep,
        who: Annotated[Account, Depends(allowed(Action.SEARCH))],
    ) -> dict[str, Any]:
        """Faces like the person's own (their mean), other than theirs; logged like a search."""
        with svc.lock:
            result = svc.engine.search_person(
                person_id, body.top_k, body.threshold, body.collections or None,
                purpose=body.purpose, case_ref=body.case_ref, caller=caller_of(who),
            )  # fmt: skip
        return {"search_id": result.search_id, **with_links(to_jsonable(result))}

    # --- faces ------------------------------------------------------------------------

    @app.get("/faces", tags=["faces"])
    def get_faces(
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.BROWSE))],
        image_id: DbId | None = None,
        person_id: DbId | None = None,
    ) -> list[dict[str, Any]]:
        """Accepted faces of an image or of a person."""
        if image_id is None and person_id is None:
            raise InvalidArgumentError("give image_id or person_id")
        ids = svc.engine.accepted_face_ids(image_id=image_id, person_id=person_id)
        records = svc.engine.face_records(ids)
        return [with_links(to_jsonable(records[i])) for i in ids if i in records]

    @app.get("/faces/{face_id}", tags=["faces"])
    def get_face(
        face_id: DbId,
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.BROWSE))],
    ) -> dict[str, Any]:
        return dict(with_links(to_jsonable(svc.engine.face_record(face_id))))

    @app.delete("/faces/{face_id}", tags=["faces"])
    def delete_face(
        face_id: DbId, svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.DELETE))]
    ) -> dict[str, int]:
        with svc.lock:
            svc.engine.face_record(face_id)  # 404 when unknown
            return {"faces_removed": svc.engine.delete(face=face_id)}

    @app.get("/faces/{face_id}/thumbnail", tags=["faces"])
    def get_face_thumbnail(
        face_id: DbId,
        svc: ServiceDep,
        who: Annotated[Account, Depends(allowed(Action.SEARCH))],
    ) -> Response:
        """The face, cropped from its source image with some margin, as a JPEG."""
        record, image = _face_source(svc, who, face_id, "thumbnail")
        return _jpeg(face_crop(image, record.box, margin_divisor=3, max_px=THUMBNAIL_PX))

    @app.get("/faces/{face_id}/source", tags=["faces"])
    def get_face_source(
        face_id: DbId,
        svc: ServiceDep,
        who: Annotated[Account, Depends(allowed(Action.SEARCH))],
    ) -> Response:
        """The whole image the face was found in, as a JPEG."""
        return _jpeg(_face_source(svc, who, face_id, "source")[1])

    # --- search -----------------------------------------------------------------------

    @app.post("/searches", tags=["search"])
    async def post_search(
        svc: ServiceDep,
        who: Annotated[Account, Depends(allowed(Action.SEARCH))],
        image: Annotated[UploadFile, File(description="The probe photo.")],
        # Optional here so that a search without them is a refusal by rule (counted), not a
        # validation error: checked first thing below.
        purpose: Annotated[str | None, Form(description="Why you search (logged).")] = None,
        case_ref: Annotated[str | None, Form(description="Case reference (logged).")] = None,
        top_k: Annotated[int | None, Form(ge=1, le=1000)] = None,
        threshold: Annotated[float | None, Form(ge=-1.0, le=1.0)] = None,
        collections: Annotated[str | None, Form(description="Comma-separated names.")] = None,
    ) -> dict[str, Any]:
        """Every face in the probe with its most similar gallery faces and their sources."""
        # Refused (and the refusal logged, by the engine) before the upload is read.
        await run_in_threadpool(svc.engine.check_search_purpose, purpose, case_ref, caller_of(who))
        data = await _read_upload(svc, image)
        names = [c.strip() for c in (collections or "").split(",") if c.strip()]
        return await run_in_threadpool(
            _search, svc, who, data, top_k, threshold, names, purpose, case_ref
        )

    @app.get("/searches", tags=["search"])
    def get_searches(
        svc: ServiceDep, who: Annotated[Account, Depends(account)], limit: PageLimit = 100
    ) -> list[dict[str, Any]]:
        """The search log: analysts see their own searches, admins and auditors everyone's."""
        if may(who, Action.READ_ALL_SEARCHES):
            owner = None
        else:
            authorise(who, Action.READ_OWN_SEARCHES)
            owner = who.id
        return [to_jsonable(r) for r in svc.engine.search_log(owner, limit)]

    @app.post("/verifications", tags=["search"])
    async def post_verification(
        svc: ServiceDep,
        who: Annotated[Account, Depends(allowed(Action.SEARCH))],
        first: Annotated[UploadFile, File()],
        second: Annotated[UploadFile, File()],
        threshold: Annotated[float | None, Form(ge=-1.0, le=1.0)] = None,
    ) -> dict[str, Any]:
        """Are the largest faces of two photos the same person?"""
        a, b = await _read_upload(svc, first), await _read_upload(svc, second)
        return await run_in_threadpool(_verify, svc, who, a, b, threshold)

    # --- consent and enrolment --------------------------------------------------------

    @app.post("/consents", status_code=201, tags=["consent"])
    def post_consent(
        body: ConsentIn,
        request: Request,
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.MANAGE_CONSENT))],
    ) -> dict[str, Any]:
        """Record a subject's consent, with the evidence for it."""
        with svc.lock:
            consent = svc.engine.add_consent(
                subject_ref=body.subject_ref.strip(),
                purpose=body.purpose.strip(),
                scope=body.scope,
                given_at=aware(body.given_at) or datetime.now(UTC),
                expires_at=aware(body.expires_at),
                evidence_ref=body.evidence_ref.strip(),
            )
        return dict(to_jsonable(consent))

    @app.get("/consents", tags=["consent"])
    def get_consents(
        svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.MANAGE_CONSENT))]
    ) -> list[dict[str, Any]]:
        return [to_jsonable(c) for c in svc.engine.consents()]

    @app.post("/consents/{consent_id}/withdraw", tags=["consent"])
    def post_consent_withdraw(
        consent_id: DbId,
        svc: ServiceDep,
        who: Annotated[Account, Depends(allowed(Action.MANAGE_CONSENT))],
    ) -> dict[str, Any]:
        """Withdraw the consent: every face enrolled under it is erased at once."""
        with svc.lock:
            erased = svc.engine.withdraw_consent(consent_id, actor_name(who))
        return {"faces_erased": erased.face_ids.tolist(), "images_erased": erased.image_ids}

    @app.post("/collections/{name}/enrolments", status_code=201, tags=["persons"])
    async def post_enrolment(
        name: str,
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.INGEST))],
        person_name: Annotated[str, Form(min_length=1, max_length=200)],
        photos: Annotated[list[UploadFile], File(description="Photos of the person.")],
        consent_id: Annotated[DbId | None, Form()] = None,
    ) -> dict[str, Any]:
        """Enrol a person with the main face of each photo; in a consent collection, against
        their valid consent record (and only their face is kept)."""
        await run_in_threadpool(_check_enrolment, svc, name, consent_id)
        saved = [await _save_upload(svc, upload) for upload in photos]
        person = await run_in_threadpool(
            svc.locked,
            svc.engine.enrol,
            person_name.strip(),
            saved,
            collection=name,
            consent_id=consent_id,
        )
        return dict(to_jsonable(person))

    # --- data subject requests (by selfie) ----------------------------------------------

    @app.post("/subject-requests/access", status_code=201, tags=["subject requests"])
    async def post_access_request(
        svc: ServiceDep,
        who: Annotated[Account, Depends(allowed(Action.HANDLE_SUBJECT_REQUESTS))],
        photos: Annotated[list[UploadFile], File(description="Photos of the requester.")],
        request_ref: Annotated[str, Form(min_length=1, max_length=200)],
    ) -> dict[str, Any]:
        """Open an access request: the candidate faces, found by the calibrated rule, for an
        admin to review; nothing is disclosed until they confirm which are the requester's."""
        return await _open_subject_request(svc, who, ACCESS, photos, request_ref)

    @app.post("/subject-requests/erasure", status_code=201, tags=["subject requests"])
    async def post_erasure_request(
        svc: ServiceDep,
        who: Annotated[Account, Depends(allowed(Action.HANDLE_SUBJECT_REQUESTS))],
        photos: Annotated[list[UploadFile], File(description="Photos of the requester.")],
        request_ref: Annotated[str, Form(min_length=1, max_length=200)],
    ) -> dict[str, Any]:
        """Open an erasure and opt-out request: the candidate faces for an admin to review;
        nothing is erased until they confirm which are the requester's."""
        return await _open_subject_request(svc, who, ERASURE, photos, request_ref)

    @app.get("/subject-requests/{request_id}", tags=["subject requests"])
    def get_subject_request(
        request_id: DbId,
        svc: ServiceDep,
        who: Annotated[Account, Depends(allowed(Action.HANDLE_SUBJECT_REQUESTS))],
    ) -> dict[str, Any]:
        """The request, the rule its candidates were found with, and every candidate with its
        similarity, source and decision (a crop of each: ``crop_url``)."""
        with svc.lock:
            return _review_json(review(svc.engine, request_id, actor_name(who)))

    @app.get("/subject-requests/{request_id}/candidates/{face_id}/crop", tags=["subject requests"])
    def get_subject_request_crop(
        request_id: DbId,
        face_id: DbId,
        svc: ServiceDep,
        who: Annotated[Account, Depends(allowed(Action.HANDLE_SUBJECT_REQUESTS))],
    ) -> Response:
        """One candidate face as a JPEG, for the review."""
        with svc.lock:
            crop = candidate_crop(svc.engine, request_id, face_id, actor_name(who))
        return Response(crop, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.post("/subject-requests/{request_id}/confirm", tags=["subject requests"])
    def post_subject_request_confirm(
        request_id: DbId,
        body: DecisionIn,
        svc: ServiceDep,
        who: Annotated[Account, Depends(allowed(Action.HANDLE_SUBJECT_REQUESTS))],
    ) -> dict[str, Any]:
        """The admin's decision: ``face_ids`` are the requester's and every other candidate
        is not. Access: the report then holds exactly these. Erasure: these are erased (store,
        index, copies) and the requester's photos go on the suppression list."""
        with svc.lock:
            done = confirm(svc.engine, request_id, body.face_ids, actor_name(who), who.jurisdiction)
        return dict(to_jsonable(done))

    @app.get(
        "/subject-requests/{request_id}/report", tags=["subject requests"], response_model=None
    )
    def get_access_report(
        request_id: DbId,
        svc: ServiceDep,
        who: Annotated[Account, Depends(allowed(Action.HANDLE_SUBJECT_REQUESTS))],
        export: bool = False,
    ) -> dict[str, Any] | Response:
        """A confirmed access request's report: the faces confirmed as the requester's, with
        source, basis and retention; with ``export``, as a zip (report.json and a crop of each
        face) to send them."""
        with svc.lock:
            report = access_report(svc.engine, request_id, actor_name(who))
            if export:
                archive = export_access_report(svc.engine, report, actor_name(who))
                return Response(
                    archive,
                    media_type="application/zip",
                    headers={
                        "Content-Disposition": 'attachment; filename="subject-access-'
                        f'{report.request.id}.zip"',
                        "Cache-Control": "no-store",
                    },
                )
        return dict(to_jsonable(report))

    @app.get("/subject-requests", tags=["subject requests"])
    def get_subject_requests(
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.HANDLE_SUBJECT_REQUESTS))],
    ) -> list[dict[str, Any]]:
        return [to_jsonable(r) for r in svc.engine.subject_requests()]

    # --- retention and reports ----------------------------------------------------------

    @app.post("/retention/runs", tags=["retention"])
    def post_retention_run(
        svc: ServiceDep, who: Annotated[Account, Depends(allowed(Action.RUN_RETENTION))]
    ) -> dict[str, Any]:
        """Destroy now what is past its retention period (the server also does so every
        retention_interval_s)."""
        with svc.lock:
            return dict(to_jsonable(run_retention(svc.engine, actor=actor_name(who))))

    @app.get("/reports/transparency", tags=["reports"])
    def get_transparency_report(
        svc: ServiceDep,
        _: Annotated[Account, Depends(allowed(Action.READ_REPORTS))],
        since: Moment,
    ) -> dict[str, Any]:
        """Counts since ``since``: searches by purpose, subject requests by outcome,
        retention deletions, refusals by rule."""
        return dict(to_jsonable(svc.engine.transparency_report(aware(since) or since)))

    return app


def with_links(value: Any) -> Any:
    """Add ``thumbnail_url`` and ``source_url`` to every face (a dict with ``face_id``)."""
    if isinstance(value, dict):
        linked = {k: with_links(v) for k, v in value.items()}
        if "face_id" in linked:
            linked["thumbnail_url"] = f"/faces/{linked['face_id']}/thumbnail"
            linked["source_url"] = f"/faces/{linked['face_id']}/source"
        return linked
    if isinstance(value, list):
        return [with_links(v) for v in value]
    return value


def allowed_folder(folder: str, roots: list[Path]) -> Path:
    """``folder`` resolved, when it lies under one of the allowed ingest roots."""
    if not roots:
        raise FolderNotAllowedError(
            "server-side ingest is off: an admin sets ingest_allowed_roots to allow folders"
        )
    resolved = Path(folder).resolve()  # symlinks and ".." resolved before the check
    if not any(resolved.is_relative_to(root.resolve()) for root in roots):
        raise FolderNotAllowedError(f"{folder} is not under an allowed ingest root")
    if not resolved.is_dir():
        raise NotFoundError(f"{folder}: no such folder")
    return resolved


def _ingest_uploads(
    svc: Service,
    who: Account,
    collection: str,
    uploads: list[tuple[str, Path]],
    provenance: Provenance,
) -> tuple[IngestReport, list[dict[str, Any]]]:
    """Ingest the saved uploads (attributed to ``who``) and say what became of each."""
    with svc.lock:
        before = svc.engine.known_image_hashes(collection)
        report = svc.engine.ingest(
            [path for _, path in uploads],
            collection,
            provenance=provenance,
            workers=1,
            actor=actor_name(who),
        )
        after = svc.engine.known_image_hashes(collection)
    failed = {f.location: f for f in report.failures}
    seen: set[str] = set()
    outcomes: list[dict[str, Any]] = []
    for filename, path in uploads:
        sha256 = path.parent.name  # uploads are kept under their content hash
        failure = failed.get(str(path.absolute())) or failed.get(str(path.resolve()))
        outcome: dict[str, Any] = {"file": filename, "sha256": sha256}
        if failure is not None:
            outcome |= {"outcome": "failed", "error": failure.error, "message": failure.message}
        elif sha256 in before or sha256 in seen:
            outcome["outcome"] = "duplicate"
        elif sha256 in after:
            outcome["outcome"] = "stored"
        else:  # analysed, not failed, not stored: only faces of people who opted out
            outcome["outcome"] = "suppressed"
        seen.add(sha256)
        outcomes.append(outcome)
    return report, outcomes


def _check_enrolment(svc: Service, collection: str, consent_id: int | None) -> None:
    """Refused before anything is kept."""
    with svc.lock:
        policy = svc.engine.policy_for_ingest(collection)
        if policy.basis == LegalBasis.CONSENT:
            svc.engine.valid_consent(consent_id, collection)


def _search(
    svc: Service,
    who: Account,
    data: bytes,
    top_k: int | None,
    threshold: float | None,
    names: list[str],
    purpose: str | None,
    case_ref: str | None,
) -> dict[str, Any]:
    """A search in the thread pool: the probe analysed on a pipeline of its own, outside the
    engine lock; the index, the store and the log (by the engine) under it."""
    started = time.perf_counter()
    top_k, threshold = svc.engine.search_bounds(top_k, threshold)
    with svc.pipelines.borrow() as pipeline:
        analysis, faces = svc.engine.probe_faces(data, "probe image", pipeline=pipeline)
    with svc.lock:
        result = svc.engine.search_analysed(
            analysis, faces, top_k, threshold, names or None,
            purpose=purpose, case_ref=case_ref, caller=caller_of(who),
        )  # fmt: skip
    svc.metrics.search_latency.observe(time.perf_counter() - started)
    return {"search_id": result.search_id, **with_links(to_jsonable(result))}


def _verify(
    svc: Service, who: Account, a: bytes, b: bytes, threshold: float | None
) -> dict[str, Any]:
    """Needs no index: no engine lock, a pipeline of its own (the audit log serialises its
    own appends)."""
    with svc.pipelines.borrow() as pipeline:
        result = svc.engine.verify(a, b, threshold, pipeline=pipeline, caller=caller_of(who))
        return dict(to_jsonable(result))


def _face_source(
    svc: Service, who: Account, face_id: int, view: str
) -> tuple[FaceRecord, PILImage.Image]:
    record, image = svc.engine.face_source(face_id, caller=caller_of(who), view=view)
    return record, PILImage.fromarray(image)


def _jpeg(image: PILImage.Image) -> Response:
    return Response(
        jpeg_bytes(image), media_type="image/jpeg", headers={"Cache-Control": "no-store"}
    )


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
    # Kept under its content hash, with its own (sanitised) name so people recognise it.
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in (upload.filename or ""))
    folder = svc.uploads / hashlib.sha256(data).hexdigest()
    path = folder / (name.lstrip(".")[-120:] or "upload")
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / ".part"
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


async def _open_subject_request(
    svc: Service, who: Account, kind: str, photos: list[UploadFile], request_ref: str
) -> dict[str, Any]:
    data: list[bytes | Path] = [await _read_upload(svc, photo) for photo in photos]
    opened = await run_in_threadpool(
        svc.locked,
        open_request,
        svc.engine,
        kind,
        data,
        request_ref,
        actor_name(who),
        who.jurisdiction,
    )
    return _review_json(opened)


def _review_json(opened: RequestReview) -> dict[str, Any]:
    body: dict[str, Any] = to_jsonable(opened)
    for candidate in body["candidates"]:
        candidate["crop_url"] = (
            f"/subject-requests/{opened.request.id}/candidates/{candidate['face_id']}/crop"
        )
    return body
