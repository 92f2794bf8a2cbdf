"""Retention: destroy what is kept longer than allowed.

- An image (with its faces) older than its collection's retention period.
- A face enrolled on consent whose consent expired or was withdrawn, or whose subject has not
  interacted for three years (Illinois BIPA 15(a)), whatever the collection's period.

Run by ``facelens retention run`` and, in the server, every ``retention_interval_s``. Every run
is logged in the audit log, with what it destroyed as counts and ids (zero too), never images.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from facelens.engine import SYSTEM_ACTOR, Engine
from facelens.privacy.policy import CONSENT_MAX_IDLE

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RetentionReport:
    ran_at: datetime
    images_deleted: int = 0
    faces_deleted: int = 0
    image_ids: list[int] = field(default_factory=list)
    face_ids: list[int] = field(default_factory=list)
    by_collection: dict[str, int] = field(default_factory=dict)  # images deleted
    consents_lapsed: list[int] = field(default_factory=list)
    #: Collections whose retention could not be run, with why: the others ran regardless.
    failures: dict[str, str] = field(default_factory=dict)


def run_retention(
    engine: Engine, now: datetime | None = None, actor: str = SYSTEM_ACTOR
) -> RetentionReport:
    now = now or datetime.now(UTC)
    report = RetentionReport(ran_at=now)
    for name in engine.store.collection_names():
        # One collection's fault (a stored policy that no longer validates, a period past the
        # calendar) must not keep every other collection's expired data.
        try:
            _expire_collection(engine, name, now, report)
        except Exception as exc:
            log.exception("retention of collection %r failed", name)
            report.failures[name] = (
                f"retention of collection {name!r} was not run: {exc}; correct its retention "
                "period (facelens collection set-policy) and run retention again"
            )
    for consent in engine.store.consents():
        idle_too_long = now - consent.last_interaction_at > CONSENT_MAX_IDLE
        if consent.valid_at(now) and not idle_too_long:
            continue
        faces = engine.store.consent_face_ids(consent.id)
        if not faces:
            continue
        erased = engine.erase(faces)
        report.consents_lapsed.append(consent.id)
        report.face_ids += erased.face_ids.tolist()
        report.image_ids += erased.image_ids
    report.images_deleted = len(report.image_ids)
    report.faces_deleted = len(report.face_ids)
    # Every run is logged, one that destroys nothing too: the log (and the transparency
    # report's retention_runs) shows that retention ran, not only that it found something.
    engine.store.append_audit(
        actor,
        "retention",
        "retention run",
        {
            "images_deleted": report.images_deleted,
            "faces_deleted": report.faces_deleted,
            "image_ids": report.image_ids,
            "face_ids": report.face_ids,
            "by_collection": report.by_collection,
            "consents_lapsed": report.consents_lapsed,
            "failures": report.failures,
        },
    )
    return report


def _expire_collection(engine: Engine, name: str, now: datetime, report: RetentionReport) -> None:
    policy = engine.store.collection_policy(name)
    if policy is None:
        return
    expired = engine.store.images_ingested_before(name, policy.retention_cutoff(now))
    if not expired:
        return
    erased = engine.store.delete_images(expired)
    engine.after_erasure(erased, compact=True)
    report.by_collection[name] = len(expired)
    report.image_ids += expired
    report.face_ids += erased.face_ids.tolist()
