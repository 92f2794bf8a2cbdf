"""Data subject rights, by selfie: access (GDPR Art. 15) and erasure with opt-out (Art. 17).

Names are not reliable identifiers, so a request is made with a photo of the requester. Every
gallery face matching it at or above the match threshold is theirs for the request. Matching is
an exact scan of the store (not the approximate index): a request must find every face held.

Erasure takes two steps: the request (which keeps the requester's template, sealed, and says
how many faces match) and an admin's confirmation, which erases the faces (``Engine.erase``:
one store transaction with the suppression entry, then the index and facelens's own image
copies) and puts the template on the suppression list, so future ingests skip the person and
searches never show them.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from facelens.crops import face_crop, jpeg_bytes
from facelens.engine import Engine, ImageInput
from facelens.errors import ConflictError, InvalidArgumentError
from facelens.types import FloatArray, IdArray, SubjectRequest, to_jsonable

ACCESS = "access"
ERASURE = "erasure"
PENDING = "pending"
COMPLETED = "completed"
NO_MATCH = "no_match"
CROP_PX = 200


@dataclass(frozen=True, slots=True)
class HeldFace:
    """One face held about the requester, where it came from and why it is held."""

    face_id: int
    similarity: float
    collection: str
    legal_basis: str | None
    purpose: str | None
    retention_days: int | None
    image_id: int
    image_location: str
    origin_url: str | None
    page_url: str | None
    licence_ref: str | None
    ingested_at: datetime
    person_name: str | None


@dataclass(frozen=True, slots=True)
class AccessReport:
    request: SubjectRequest
    threshold: float
    faces: list[HeldFace]


def requester_template(engine: Engine, photo: ImageInput) -> FloatArray:
    """The embedding of the requester's face: the largest usable face of the photo."""
    _, faces = engine.probe_faces(photo, "requester's photo")
    embedding = faces[0].embedding
    assert embedding is not None
    return embedding.vector


def matching_faces(engine: Engine, template: FloatArray) -> tuple[IdArray, FloatArray]:
    """Every stored face at or above the match threshold, by an exact scan of the store."""
    found_ids: list[IdArray] = []
    found_scores: list[FloatArray] = []
    for ids, vectors in engine.store.embeddings(engine.model):
        scores = vectors @ template
        keep = scores >= engine.settings.match_threshold
        found_ids.append(ids[keep])
        found_scores.append(scores[keep].astype(np.float32))
    if not found_ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    return np.concatenate(found_ids), np.concatenate(found_scores)


def _check_ref(request_ref: str) -> str:
    if not request_ref.strip():
        raise InvalidArgumentError("a subject request needs a reference (the request's number)")
    return request_ref.strip()


def access(engine: Engine, photo: ImageInput, request_ref: str, actor: str) -> AccessReport:
    """Every face held that matches the requester, with its source and why it is held."""
    ref = _check_ref(request_ref)
    template = requester_template(engine, photo)
    ids, scores = matching_faces(engine, template)
    records = engine.store.face_records(ids.tolist())
    policies = engine.store.collection_policies()
    faces = []
    for face_id, score in sorted(zip(ids.tolist(), scores.tolist(), strict=True)):
        record = records.get(face_id)
        if record is None:
            continue
        policy = policies.get(record.collection)
        image = engine.store.image_record(record.image_id)
        faces.append(
            HeldFace(
                face_id=face_id, similarity=round(float(score), 4), collection=record.collection,
                legal_basis=policy.basis.value if policy else None,
                purpose=policy.purpose if policy else None,
                retention_days=policy.retention_days if policy else None,
                image_id=record.image_id, image_location=record.image_location,
                origin_url=record.provenance.origin_url, page_url=record.provenance.page_url,
                licence_ref=record.provenance.licence_ref, ingested_at=image.ingested_at,
                person_name=record.person_name,
            )
        )  # fmt: skip
    request = engine.store.add_subject_request(
        kind=ACCESS,
        request_ref=ref,
        created_by=actor,
        status=COMPLETED if faces else NO_MATCH,
        faces_found=len(faces),
    )
    engine.store.append_audit(
        actor,
        "subject access",
        ref,
        {"request_id": request.id, "face_ids": [f.face_id for f in faces]},
    )
    return AccessReport(request=request, threshold=engine.settings.match_threshold, faces=faces)


def export_access_report(engine: Engine, report: AccessReport, actor: str) -> bytes:
    """A zip an admin can send the requester: ``report.json`` and a crop of each face held.
    Whole source images are not included: they may show other people (GDPR Art. 15(4))."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        body = {
            "request": to_jsonable(report.request),
            "threshold": report.threshold,
            "faces": to_jsonable(report.faces),
            "about": "Every face facelens holds that matches the photo you sent, with where it "
            "came from, the legal basis and purpose it is held for, and for how long.",
        }
        archive.writestr("report.json", json.dumps(body, indent=2))
        for face in report.faces:
            crop = _face_crop(engine, face)
            if crop is not None:
                archive.writestr(f"faces/face-{face.face_id}.jpg", crop)
    engine.store.append_audit(
        actor, "subject access export", report.request.request_ref,
        {"request_id": report.request.id, "faces": len(report.faces)},
    )  # fmt: skip
    return out.getvalue()


def _face_crop(engine: Engine, face: HeldFace) -> bytes | None:
    path = Path(face.image_location)
    record = engine.store.face_records([face.face_id]).get(face.face_id)
    if record is None or not path.is_file():
        return None
    image = PILImage.fromarray(engine.pipeline.load(path))
    return jpeg_bytes(face_crop(image, record.box, margin_divisor=4, max_px=CROP_PX))


def request_erasure(
    engine: Engine, photo: ImageInput, request_ref: str, actor: str
) -> SubjectRequest:
    """Record an erasure request; nothing is erased until an admin confirms it."""
    ref = _check_ref(request_ref)
    template = requester_template(engine, photo)
    ids, _ = matching_faces(engine, template)
    request = engine.store.add_subject_request(
        kind=ERASURE,
        request_ref=ref,
        created_by=actor,
        status=PENDING,
        faces_found=len(ids),
        template=template,
    )
    engine.store.append_audit(
        actor, "subject erasure request", ref, {"request_id": request.id, "faces_found": len(ids)}
    )
    return request


def confirm_erasure(engine: Engine, request_id: int, actor: str) -> SubjectRequest:
    """Erase every face matching the requester (as the gallery is now) and suppress them."""
    request, template = engine.store.subject_request(request_id)
    if request.kind != ERASURE:
        raise InvalidArgumentError(f"subject request {request_id} is an {request.kind} request")
    if request.status != PENDING or template is None:
        raise ConflictError(f"subject request {request_id} is {request.status}, not pending")
    ids, _ = matching_faces(engine, template)
    erased = engine.erase(
        ids.tolist(),
        suppress=template,
        request_id=request_id,
        request_outcome={
            "status": COMPLETED,
            "completed_at": datetime.now(UTC),
            "confirmed_by": actor,
        },
    )
    engine.store.append_audit(
        actor,
        "subject erasure",
        request.request_ref,
        {
            "request_id": request_id,
            "face_ids": erased.face_ids.tolist(),
            "image_ids": erased.image_ids,
            "suppressed": True,
        },
    )
    return engine.store.subject_request(request_id)[0]
