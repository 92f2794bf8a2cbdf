"""Data subject rights, by selfie: access (GDPR Art. 15) and erasure with opt-out (Art. 17).

Names are not reliable identifiers, so a request is made with photos of the requester. Two
things keep a request from touching strangers or missing the requester:

- **A calibrated rule.** A stored face is a candidate when its similarity to the requester's
  photos (their mean template) reaches a threshold chosen, for the gallery's current size,
  so that the expected number of strangers proposed stays at
  ``subject_request_false_candidates``. The false match rates come from a table measured on
  LFW (``facelens/data/subject_match_fmr.json``, made by ``bench/subject_requests.py``; the
  worse gender group at each threshold). The threshold and the expected false candidates are
  stated with every request. Several photos find more of the requester's faces.
- **A human in the loop.** Every candidate is shown to an admin (a crop, the similarity, the
  source); the admin confirms face by face. Nothing is disclosed or erased that an admin did
  not confirm. On confirmation the gallery is scanned again: candidates that arrived since the
  review are added, and the confirmation waits until they are reviewed too.

Erasure erases the confirmed faces (``Engine.erase``: one store transaction with the
suppression entries, then the index and facelens's own copies) and puts every photo's
template on the suppression list, so future ingests skip the person and searches never show
them. Matching is an exact scan of the store (not the approximate index).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage

from facelens.config import Settings
from facelens.engine import Engine, ImageInput
from facelens.errors import ConflictError, InvalidArgumentError, NotFoundError
from facelens.pipeline.crops import face_crop, jpeg_bytes
from facelens.pipeline.embed.base import fused_template
from facelens.types import FloatArray, IdArray, SubjectRequest, to_jsonable

ACCESS = "access"
ERASURE = "erasure"
PENDING = "pending"  # waiting for an admin's review and confirmation
COMPLETED = "completed"
NO_MATCH = "no_match"
CONFIRMED = "confirmed"
REJECTED = "rejected"
UNDECIDED = "pending"
CROP_PX = 200


@dataclass(frozen=True, slots=True)
class MatchTable:
    """False match rate by threshold on impostor pairs (the worse group at each threshold).
    ``fmr`` is measured where at least ``reliable_matches`` impostor pairs reach the
    threshold, and beyond that extrapolated along the log-linear tail of the measured part
    (a handful of pairs says little, and none says only "below 1 in the pairs tried")."""

    thresholds: tuple[float, ...]
    fmr: tuple[float, ...]
    measured: tuple[bool, ...]
    impostor_pairs: int
    source: str

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> MatchTable:
        thresholds = tuple(float(t) for t in body["thresholds"])
        fmr = tuple(float(f) for f in body.get("fmr_model", body["fmr"]))
        measured = tuple(bool(m) for m in body.get("measured", [True] * len(fmr)))
        if not len(thresholds) == len(fmr) == len(measured) or list(thresholds) != sorted(
            thresholds
        ):
            raise ValueError("a match table needs ascending thresholds, one FMR each")
        return cls(thresholds, fmr, measured, int(body["impostor_pairs"]), str(body["source"]))


@cache
def shipped_match_table() -> MatchTable:
    text = resources.files("facelens").joinpath("data/subject_match_fmr.json").read_text()
    return MatchTable.from_json(json.loads(text))


@dataclass(frozen=True, slots=True)
class MatchRule:
    """The threshold a request's candidates are found with, and what it costs in strangers."""

    threshold: float
    gallery_faces: int
    photos: int
    expected_false_candidates: float
    fmr_measured: bool  # False: the FMR at this threshold is the table's extrapolation
    basis: str


def calibrated_rule(
    table: MatchTable, gallery_faces: int, photos: int, settings: Settings
) -> MatchRule:
    """The lowest tabled threshold in [``subject_request_min_threshold``,
    ``subject_request_max_threshold``] at which comparing the fused template with
    ``gallery_faces`` faces is expected to propose at most ``subject_request_false_candidates``
    strangers. (The table holds single-photo impostor pairs; a fused template of several
    photos scores strangers lower, so the count is conservative for it.) Where no
    threshold in the range does (a very large gallery), the highest one: stricter would miss
    the requester's own faces, and the admin's review, told how many strangers to expect,
    stands between a candidate and any disclosure."""
    comparisons = max(1, gallery_faces)
    target = settings.subject_request_false_candidates
    allowed = [
        i
        for i, t in enumerate(table.thresholds)
        if settings.subject_request_min_threshold <= t <= settings.subject_request_max_threshold
    ]
    if not allowed:
        raise ValueError("no tabled threshold lies between the subject request min and max")
    chosen = next((i for i in allowed if comparisons * table.fmr[i] <= target), allowed[-1])
    return MatchRule(
        threshold=table.thresholds[chosen],
        gallery_faces=gallery_faces,
        photos=photos,
        expected_false_candidates=comparisons * table.fmr[chosen],
        fmr_measured=table.measured[chosen],
        basis=f"{table.source}; {table.impostor_pairs:,} impostor pairs",
    )


def candidate_scores(vectors: FloatArray, templates: FloatArray) -> FloatArray:
    """Each stored face's similarity to the requester's fused template: (n,)."""
    return np.asarray(vectors @ fused_template(templates), dtype=np.float32)


@dataclass(frozen=True, slots=True)
class HeldFace:
    """One face held that may be the requester's: where it came from, why it is held, and
    the admin's decision on it (``pending``, ``confirmed`` or ``rejected``)."""

    face_id: int
    similarity: float
    decision: str
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
class RequestReview:
    """A request with its rule and every candidate, for an admin to decide on."""

    request: SubjectRequest
    rule: MatchRule | None
    candidates: list[HeldFace]


@dataclass(frozen=True, slots=True)
class AccessReport:
    """What is sent to the requester: only the faces an admin confirmed as theirs."""

    request: SubjectRequest
    threshold: float | None
    faces: list[HeldFace]


def requester_templates(engine: Engine, photos: Sequence[ImageInput]) -> FloatArray:
    """One template per photo (its largest usable face), (k, dim)."""
    if not photos:
        raise InvalidArgumentError("a subject request needs at least one photo of the requester")
    limit = engine.settings.subject_request_max_photos
    if len(photos) > limit:
        raise InvalidArgumentError(
            f"a subject request takes at most {limit} photos (subject_request_max_photos), "
            f"got {len(photos)}"
        )
    templates = []
    for n, photo in enumerate(photos, start=1):
        _, faces = engine.probe_faces(photo, f"requester's photo {n}")
        embedding = faces[0].embedding
        assert embedding is not None
        templates.append(embedding.vector)
    return np.stack(templates).astype(np.float32)


def matching_faces(
    engine: Engine, templates: FloatArray, threshold: float
) -> tuple[IdArray, FloatArray]:
    """Every stored face whose similarity to the fused template reaches ``threshold``, by an
    exact scan of the store."""
    found_ids: list[IdArray] = []
    found_scores: list[FloatArray] = []
    for ids, vectors in engine.store.embeddings(engine.model):
        scores = candidate_scores(vectors, templates)
        keep = scores >= threshold
        found_ids.append(ids[keep])
        found_scores.append(scores[keep])
    if not found_ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    return np.concatenate(found_ids), np.concatenate(found_scores)


def _rule(engine: Engine, photos: int) -> MatchRule:
    return calibrated_rule(
        shipped_match_table(), engine.store.counts().faces_accepted, photos, engine.settings
    )


def _check_ref(request_ref: str) -> str:
    if not request_ref.strip():
        raise InvalidArgumentError("a subject request needs a reference (the request's number)")
    return request_ref.strip()


def open_request(
    engine: Engine,
    kind: str,
    photos: Sequence[ImageInput],
    request_ref: str,
    actor: str,
    jurisdiction: str | None = None,
) -> RequestReview:
    """Record an access or erasure request and find its candidates; nothing is disclosed or
    erased until an admin confirms which candidates are the requester's (``confirm``).
    ``jurisdiction`` is the caller's: where search by photo is forbidden, so is this."""
    if kind not in (ACCESS, ERASURE):
        raise InvalidArgumentError(f"a subject request is an access or erasure request: {kind}")
    engine.jurisdiction_policy.check_search(jurisdiction)
    ref = _check_ref(request_ref)
    templates = requester_templates(engine, photos)
    rule = _rule(engine, len(templates))
    ids, scores = matching_faces(engine, templates, rule.threshold)
    candidates = sorted(zip(ids.tolist(), scores.tolist(), strict=True), key=lambda c: -c[1])
    # An access request with no candidate is answered at once (nothing held); an erasure
    # request always waits, since its confirmation also puts the person on the opt-out list.
    done = kind == ACCESS and not candidates
    request = engine.store.add_subject_request(
        kind=kind,
        request_ref=ref,
        created_by=actor,
        status=NO_MATCH if done else PENDING,
        faces_found=len(candidates),
        templates=None if done else templates,
        candidates=candidates,
        threshold=rule.threshold,
        expected_false_candidates=rule.expected_false_candidates,
        gallery_faces=rule.gallery_faces,
    )
    engine.store.append_audit(
        actor,
        f"subject {kind} request",
        ref,
        {
            "request_id": request.id,
            "photos": len(templates),
            "threshold": rule.threshold,
            "expected_false_candidates": round(rule.expected_false_candidates, 6),
            "candidate_face_ids": [c[0] for c in candidates],
        },
    )
    return RequestReview(request, rule, _held(engine, request.id))


def review(engine: Engine, request_id: int, actor: str) -> RequestReview:
    """The request and its candidates with their sources (a look at the gallery: logged)."""
    request, _ = engine.store.subject_request(request_id)
    candidates = _held(engine, request_id)
    engine.store.append_audit(
        actor,
        "subject request review",
        request.request_ref,
        {"request_id": request_id, "face_ids": [c.face_id for c in candidates]},
    )
    rule = None
    if request.threshold is not None:
        table = shipped_match_table()
        rule = MatchRule(
            threshold=request.threshold,
            gallery_faces=request.gallery_faces,
            photos=request.photos,
            expected_false_candidates=request.expected_false_candidates or 0.0,
            fmr_measured=table.measured[table.thresholds.index(request.threshold)]
            if request.threshold in table.thresholds
            else False,
            basis=table.source,
        )
    return RequestReview(request, rule, candidates)


def _held(engine: Engine, request_id: int, decision: str | None = None) -> list[HeldFace]:
    """The request's candidates that are still stored, best first, with their sources."""
    rows = engine.store.subject_request_candidates(request_id)
    records = engine.store.face_records([r[0] for r in rows])
    policies = engine.store.collection_policies()
    held = []
    for face_id, score, decided in rows:
        record = records.get(face_id)
        if record is None or (decision is not None and decided != decision):
            continue
        policy = policies.get(record.collection)
        image = engine.store.image_record(record.image_id)
        held.append(
            HeldFace(
                face_id=face_id, similarity=round(float(score), 4), decision=decided,
                collection=record.collection,
                legal_basis=policy.basis.value if policy else None,
                purpose=policy.purpose if policy else None,
                retention_days=policy.retention_days if policy else None,
                image_id=record.image_id, image_location=record.image_location,
                origin_url=record.provenance.origin_url, page_url=record.provenance.page_url,
                licence_ref=record.provenance.licence_ref, ingested_at=image.ingested_at,
                person_name=record.person_name,
            )
        )  # fmt: skip
    return held


def candidate_crop(engine: Engine, request_id: int, face_id: int, actor: str) -> bytes:
    """A crop of one candidate face, for the admin's review (logged)."""
    request, _ = engine.store.subject_request(request_id)
    if face_id not in {r[0] for r in engine.store.subject_request_candidates(request_id)}:
        raise NotFoundError(f"face {face_id} is not a candidate of subject request {request_id}")
    crop = _face_crop(engine, face_id)
    if crop is None:
        raise NotFoundError(f"the source image of face {face_id} can no longer be read")
    engine.store.append_audit(
        actor,
        "subject request crop",
        request.request_ref,
        {"request_id": request_id, "face_id": face_id},
    )
    return crop


def confirm(
    engine: Engine,
    request_id: int,
    face_ids: Sequence[int],
    actor: str,
    jurisdiction: str | None = None,
) -> SubjectRequest:
    """The admin's decision: ``face_ids`` are the requester's, every other candidate is not.

    Access: the report then holds exactly the confirmed faces. Erasure: the confirmed faces
    are erased and every template of the request goes on the suppression list (with no face
    confirmed, the person is still opted out). Before deciding, the gallery is scanned again;
    candidates that arrived since the review are added and the confirmation is refused until
    they have been reviewed."""
    engine.jurisdiction_policy.check_search(jurisdiction)
    request, templates = engine.store.subject_request(request_id)
    if request.status != PENDING or templates is None:
        raise ConflictError(f"subject request {request_id} is {request.status}, not pending")
    known = {r[0] for r in engine.store.subject_request_candidates(request_id)}
    chosen = sorted({int(f) for f in face_ids})
    strangers = sorted(set(chosen) - known)
    if strangers:
        raise InvalidArgumentError(
            f"faces {strangers} are not candidates of subject request {request_id}; only "
            "reviewed candidates can be confirmed"
        )
    threshold = request.threshold
    if threshold is None:  # a request made before candidates were reviewed
        threshold = _rule(engine, len(templates)).threshold
    ids, scores = matching_faces(engine, templates, threshold)
    arrived = [(i, s) for i, s in zip(ids.tolist(), scores.tolist(), strict=True) if i not in known]
    if arrived:
        engine.store.add_subject_request_candidates(request_id, arrived)
        raise ConflictError(
            f"{len(arrived)} new candidate(s) for subject request {request_id} arrived since it "
            "was reviewed; review them, then confirm again"
        )
    decisions = {face_id: CONFIRMED if face_id in chosen else REJECTED for face_id in known}
    outcome: dict[str, object] = {
        "status": COMPLETED,
        "completed_at": datetime.now(UTC),
        "confirmed_by": actor,
        "faces_confirmed": len(chosen),
    }
    if request.kind == ACCESS:
        engine.store.decide_subject_request(request_id, decisions, actor, outcome)
        engine.store.append_audit(
            actor,
            "subject access",
            request.request_ref,
            {"request_id": request_id, "face_ids": chosen, "rejected": len(known) - len(chosen)},
        )
    else:
        engine.store.decide_subject_request(request_id, decisions, actor, None)
        erased = engine.erase(
            chosen, suppress=templates, request_id=request_id, request_outcome=outcome
        )
        engine.store.append_audit(
            actor,
            "subject erasure",
            request.request_ref,
            {
                "request_id": request_id,
                "face_ids": erased.face_ids.tolist(),
                "image_ids": erased.image_ids,
                "rejected": len(known) - len(chosen),
                "suppressed_templates": len(templates),
            },
        )
    return engine.store.subject_request(request_id)[0]


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
    faces = _held(engine, request_id, CONFIRMED)
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
            crop = _face_crop(engine, face.face_id)
            if crop is not None:
                archive.writestr(f"faces/face-{face.face_id}.jpg", crop)
    engine.store.append_audit(
        actor, "subject access export", report.request.request_ref,
        {"request_id": report.request.id, "faces": len(report.faces)},
    )  # fmt: skip
    return out.getvalue()


def _face_crop(engine: Engine, face_id: int) -> bytes | None:
    record = engine.store.face_records([face_id]).get(face_id)
    if record is None:
        return None
    path = Path(record.image_location)
    if not path.is_file():
        return None
    image = PILImage.fromarray(engine.pipeline.load(path))
    return jpeg_bytes(face_crop(image, record.box, margin_divisor=4, max_px=CROP_PX))
