"""The faces a subject request is about: the requester's templates, the stored faces that
match them (an exact scan of the store), and the candidates held with their sources and crops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from facelens.engine import Engine, ImageInput
from facelens.errors import InvalidArgumentError
from facelens.pipeline.crops import face_crop, jpeg_bytes
from facelens.privacy.rights.calibration import candidate_scores
from facelens.types import FloatArray, IdArray

CROP_PX = 200


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


def held_faces(engine: Engine, request_id: int, decision: str | None = None) -> list[HeldFace]:
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


def face_crop_jpeg(engine: Engine, face_id: int) -> bytes | None:
    """A JPEG crop of the face from its source image; None when the face or the image is
    gone (whole images are never shown: they may show other people)."""
    record = engine.store.face_records([face_id]).get(face_id)
    if record is None:
        return None
    path = Path(record.image_location)
    if not path.is_file():
        return None
    image = PILImage.fromarray(engine.pipeline.load(path))
    return jpeg_bytes(face_crop(image, record.box, margin_divisor=4, max_px=CROP_PX))
