"""The subject request workflow: open a request, review its candidates, confirm face by face.

Nothing is disclosed or erased that an admin did not confirm. On confirmation the gallery is
scanned again: candidates that arrived since the review are added, and the confirmation waits
until they are reviewed too. Erasure erases the confirmed faces (``Engine.erase``) and puts
every photo's template on the suppression list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from facelens.engine import Engine, ImageInput
from facelens.errors import ConflictError, InvalidArgumentError, NotFoundError
from facelens.privacy.rights.calibration import MatchRule, calibrated_rule, shipped_match_table
from facelens.privacy.rights.faces import (
    HeldFace,
    face_crop_jpeg,
    held_faces,
    matching_faces,
    requester_templates,
)
from facelens.types import SubjectRequest

ACCESS = "access"
ERASURE = "erasure"
PENDING = "pending"  # waiting for an admin's review and confirmation
COMPLETED = "completed"
NO_MATCH = "no_match"
CONFIRMED = "confirmed"
REJECTED = "rejected"
UNDECIDED = "pending"


@dataclass(frozen=True, slots=True)
class RequestReview:
    """A request with its rule and every candidate, for an admin to decide on."""

    request: SubjectRequest
    rule: MatchRule | None
    candidates: list[HeldFace]


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
    return RequestReview(request, rule, held_faces(engine, request.id))


def review(engine: Engine, request_id: int, actor: str) -> RequestReview:
    """The request and its candidates with their sources (a look at the gallery: logged)."""
    request, _ = engine.store.subject_request(request_id)
    candidates = held_faces(engine, request_id)
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


def candidate_crop(engine: Engine, request_id: int, face_id: int, actor: str) -> bytes:
    """A crop of one candidate face, for the admin's review (logged)."""
    request, _ = engine.store.subject_request(request_id)
    if face_id not in {r[0] for r in engine.store.subject_request_candidates(request_id)}:
        raise NotFoundError(f"face {face_id} is not a candidate of subject request {request_id}")
    crop = face_crop_jpeg(engine, face_id)
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
