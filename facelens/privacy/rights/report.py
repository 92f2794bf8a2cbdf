"""The access report: what is sent to the requester, only the faces an admin confirmed as
theirs, and its export as a zip of ``report.json`` and a crop of each face.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass

from facelens.engine import Engine
from facelens.errors import ConflictError, InvalidArgumentError
from facelens.privacy.rights.faces import HeldFace, face_crop_jpeg, held_faces
from facelens.privacy.rights.workflow import ACCESS, CONFIRMED, PENDING
from facelens.types import SubjectRequest, to_jsonable


@dataclass(frozen=True, slots=True)
class AccessReport:
    """What is sent to the requester: only the faces an admin confirmed as theirs."""

    request: SubjectRequest
    threshold: float | None
    faces: list[HeldFace]


def access_report(engine: Engine, request_id: int, actor: str) -> AccessReport:
    """The faces an admin confirmed as the requester's, with sources, basis and retention."""
    request, _ = engine.store.subject_request(request_id)
    if request.kind != ACCESS:
        raise InvalidArgumentError(f"subject request {request_id} is an {request.kind} request")
    if request.status == PENDING:
        raise ConflictError(
            f"subject request {request_id} waits for an admin to review its candidates and "
            "confirm which are the requester's; nothing is disclosed before"
        )
    faces = held_faces(engine, request_id, CONFIRMED)
    engine.store.append_audit(
        actor,
        "subject access report",
        request.request_ref,
        {"request_id": request_id, "face_ids": [f.face_id for f in faces]},
    )
    return AccessReport(request=request, threshold=request.threshold, faces=faces)


def export_access_report(engine: Engine, report: AccessReport, actor: str) -> bytes:
    """A zip an admin can send the requester: ``report.json`` and a crop of each face held.
    Whole source images are not included: they may show other people (GDPR Art. 15(4))."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        body = {
            "request": to_jsonable(report.request),
            "threshold": report.threshold,
            "faces": to_jsonable(report.faces),
            "about": "Every face facelens holds that matches the photos you sent and that we "
            "checked is yours, with where it came from, the legal basis and purpose it is held "
            "for, and for how long.",
        }
        archive.writestr("report.json", json.dumps(body, indent=2))
        for face in report.faces:
            crop = face_crop_jpeg(engine, face.face_id)
            if crop is not None:
                archive.writestr(f"faces/face-{face.face_id}.jpg", crop)
    engine.store.append_audit(
        actor, "subject access export", report.request.request_ref,
        {"request_id": report.request.id, "faces": len(report.faces)},
    )  # fmt: skip
    return out.getvalue()
