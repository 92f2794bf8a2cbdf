"""People, not just faces: searches answered per person, several photos of one person searched
as one, and a person's reference faces checked against each other.

A per-person search (``search(..., per_person=True)``) takes ``PERSON_POOL`` times ``top_k``
faces from the index, then scores every person among them on all their faces (their stored
embeddings: of the collections searched, none a reviewer rejected for them, none of someone
who opted out) and fuses each person's scores into one (``Settings.person_fusion``,
``facelens.person_fusion``); faces no person holds stand as candidates of their own. Extra
reference photos of a person then do not give a stranger's probe extra chances to match them.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facelens.engine.search import Search
from facelens.engine.state import ImageInput
from facelens.errors import InvalidArgumentError
from facelens.person_fusion import (
    PersonCandidate,
    PersonReferences,
    ReferenceCheck,
    fuse,
    fuse_probes,
    outlier_reasons,
    quality_reasons,
    quality_weight,
    self_similarities,
)
from facelens.types import (
    AnalysedFace,
    Caller,
    Embedding,
    IdArray,
    ImageAnalysis,
    Match,
    SearchDecision,
    SearchResult,
)

#: Faces taken from the index per candidate asked for, to find the persons to score.
PERSON_POOL = 4
#: Most photos one same-person search may fuse.
MAX_SAME_PERSON_PHOTOS = 20
#: Audit action of a look at a person's reference faces.
PERSON_CHECK_AUDIT_ACTION = "person check"


@dataclass(frozen=True, slots=True)
class _Gallery:
    """A person's faces that count for them in a search, and their quality weights."""

    face_ids: IdArray
    vectors: np.ndarray
    weights: np.ndarray


class PersonSearch(Search):
    """Per-person answers, same-person probes, reference checks."""

    def _ranked(
        self,
        queries: np.ndarray,
        top_k: int,
        decision: SearchDecision,
        allowed: IdArray | None,
        *,
        per_person: bool = False,
        scale: float = 1.0,
    ) -> list[tuple[list[Match], list[PersonCandidate]]]:
        if not per_person:
            return super()._ranked(queries, top_k, decision, allowed, scale=scale)
        threshold = decision.threshold  # raw similarity: search_analysed decides so
        scores, ids = self.index.search(queries, top_k * PERSON_POOL, allowed_ids=allowed)
        pools = self.raw_matches(scores * scale, ids, threshold)  # opted-out people left out
        person_ids = {m.person_id for pool in pools for m in pool if m.person_id is not None}
        galleries = {p: g for p in person_ids if (g := self._counted_faces(p, allowed))}
        return [
            self._candidates(query * scale, pool, galleries, top_k, threshold)
            for query, pool in zip(queries, pools, strict=True)
        ]

    def _candidates(
        self,
        query: np.ndarray,
        pool: list[Match],
        galleries: dict[int, _Gallery],
        top_k: int,
        threshold: float,
    ) -> tuple[list[Match], list[PersonCandidate]]:
        """One probe's candidates, best first, and their best faces (the faces shown);
        ``query`` scaled as the similarities are (``search_analysed``)."""
        scored: list[tuple[float, int, int | None, int]] = []  # fused, best face, person, n
        persons: set[int] = set()
        for match in pool:
            person_id = match.person_id
            gallery = galleries.get(person_id) if person_id is not None else None
            if person_id is None or gallery is None or match.face_id not in gallery.face_ids:
                scored.append((match.similarity, match.face_id, None, 1))
            elif person_id not in persons:
                persons.add(person_id)
                sims = gallery.vectors @ query
                fused, best = fuse(sims, gallery.weights, self.settings.person_fusion)
                scored.append((fused, int(gallery.face_ids[best]), person_id, len(sims)))
        scored.sort(key=lambda c: (-c[0], c[1]))
        scored = scored[:top_k]
        faces = [face_id for _, face_id, _, _ in scored]
        shown = self._face_matches(query, faces, threshold)
        candidates = []
        for fused, face_id, person_id, n in scored:
            top = shown.get(face_id)
            if top is None:  # gone from the store since it was scored
                continue
            # A person's fused score; a lone face's own similarity, as its match shows it.
            score = fused if person_id is not None else top.similarity
            candidates.append(
                PersonCandidate(
                    similarity=score,
                    is_match=score >= threshold,
                    best=top,
                    faces_compared=n,
                    person_id=person_id,
                    person_name=top.person_name if person_id is not None else None,
                )
            )
        return [c.best for c in candidates], candidates

    def _face_matches(
        self, query: np.ndarray, face_ids: list[int], threshold: float
    ) -> dict[int, Match]:
        """Matches of ``face_ids`` to ``query``, with their records, keyed by face id."""
        if not face_ids:
            return {}
        vectors: dict[int, np.ndarray] = {}
        for ids, batch in self.store.embeddings(self.model, face_ids=face_ids):
            vectors.update(zip((int(i) for i in ids), batch, strict=True))
        known = [f for f in face_ids if f in vectors]
        scores = np.array([[float(vectors[f] @ query) for f in known]], dtype=np.float32)
        [matches] = self.raw_matches(scores, np.array([known], dtype=np.int64), threshold)
        return {m.face_id: m for m in matches}

    def _counted_faces(self, person_id: int, allowed: IdArray | None) -> _Gallery | None:
        """The person's faces that count for them: searched (``allowed``), not rejected for
        them by a reviewer, not of someone who opted out; None when none is left."""
        face_ids = self.store.accepted_face_ids(person_id=person_id)
        rejected = {r.face_id for r in self.store.rejections(person_id)}
        face_ids = [f for f in face_ids if f not in rejected]
        if allowed is not None:
            face_ids = _within(face_ids, allowed)
        batches = list(self.store.embeddings(self.model, face_ids=face_ids)) if face_ids else []
        if not batches:
            return None
        ids = np.concatenate([b[0] for b in batches])
        vectors = np.concatenate([b[1] for b in batches])
        keep = ~self.suppressed(vectors)
        if not keep.any():
            return None
        ids, vectors = ids[keep], vectors[keep]
        qualities = self.store.face_qualities([int(i) for i in ids])
        weights = np.array(
            [quality_weight(qualities[int(i)].size_px, qualities[int(i)].sharpness) for i in ids]
        )
        return _Gallery(ids, vectors, weights)

    # --- several photos of the same person ----------------------------------------------

    def search_same_person(
        self,
        images: Sequence[ImageInput],
        top_k: int | None = None,
        threshold: float | None = None,
        collections: Sequence[str] | None = None,
        *,
        purpose: str | None = None,
        case_ref: str | None = None,
        caller: Caller | None = None,
        per_person: bool = False,
    ) -> SearchResult:
        """Several photos of the same person searched as one probe: each photo's main
        (largest accepted) face is embedded, and the gallery ranked by the mean of the
        photos' similarities (``facelens.person_fusion.fuse_probes``: their mean embedding),
        which are the similarities shown, on the scale ``match_threshold`` was chosen on.
        Searched once, as ``search`` searches (``per_person`` too), and logged once with
        every photo's embedding hash (``fused_probe_sha256``). A photo with no usable face
        refuses the whole search."""
        caller = caller or Caller.python()
        self.check_search_purpose(purpose, case_ref, caller)
        self.search_bounds(top_k, threshold)
        if not 1 <= len(images) <= MAX_SAME_PERSON_PHOTOS:
            raise InvalidArgumentError(
                f"a same-person search takes 1 to {MAX_SAME_PERSON_PHOTOS} photos, got "
                f"{len(images)}"
            )
        analysed = [
            self.probe_faces(image, f"probe photo {n}") for n, image in enumerate(images, 1)
        ]
        return self.search_fused(
            analysed, top_k, threshold, collections,
            purpose=purpose, case_ref=case_ref, caller=caller, per_person=per_person,
        )  # fmt: skip

    def search_fused(
        self,
        analysed: Sequence[tuple[ImageAnalysis, list[AnalysedFace]]],
        top_k: int | None = None,
        threshold: float | None = None,
        collections: Sequence[str] | None = None,
        *,
        purpose: str | None = None,
        case_ref: str | None = None,
        caller: Caller | None = None,
        per_person: bool = False,
    ) -> SearchResult:
        """``search_same_person`` for photos already analysed (``probe_faces``, each with a
        usable face): the part that needs the engine to itself."""
        mains = [faces[0] for _, faces in analysed]
        embeddings = [f.embedding for f in mains if f.embedding is not None]
        if not embeddings or len(embeddings) != len(mains):
            raise InvalidArgumentError("a same-person search needs a usable face in each photo")
        vectors = np.stack([e.vector for e in embeddings])
        hashes = [hashlib.sha256(v.tobytes()).hexdigest() for v in vectors]
        direction, norm = fuse_probes(vectors)
        fused = dataclasses.replace(mains[0], embedding=Embedding(direction, embeddings[0].model))
        first = analysed[0][0]
        analysis = ImageAnalysis(first.width, first.height, [fused], first.turned_degrees)
        result = self.search_analysed(
            analysis, [fused], top_k, threshold, collections, purpose=purpose,
            case_ref=case_ref, caller=caller, per_person=per_person, probes_logged=hashes,
            similarity_scale=norm,
        )  # fmt: skip
        return dataclasses.replace(result, fused_probe_sha256=hashes)

    # --- reference checks ---------------------------------------------------------------

    def check_person_references(
        self, person_id: int, *, caller: Caller | None = None
    ) -> PersonReferences:
        """Each of the person's faces against their other faces: its self-similarity (median
        similarity to the others), its quality, and flags ``outlier`` (self-similarity under
        ``match_threshold``, or far under the person's other faces') and ``low_quality``
        (small or blurred). Audited as a look at the gallery (``person check``)."""
        person = self.person(person_id)
        threshold = self.settings.match_threshold
        vectors_by_id: dict[int, np.ndarray] = {}
        if person.face_ids:
            for ids, batch in self.store.embeddings(self.model, face_ids=person.face_ids):
                vectors_by_id.update(zip((int(i) for i in ids), batch, strict=True))
        face_ids = [f for f in person.face_ids if f in vectors_by_id]
        records = self.store.face_records(face_ids)
        qualities = self.store.face_qualities(face_ids)
        vectors = np.stack([vectors_by_id[f] for f in face_ids]) if face_ids else np.zeros((0, 0))
        medians, sims = self_similarities(vectors)
        outliers = outlier_reasons(medians, threshold)
        checks = []
        for i, face_id in enumerate(face_ids):
            quality, record = qualities[face_id], records[face_id]
            poor = quality_reasons(quality.size_px, quality.sharpness)
            others = np.delete(sims[i], i)
            checks.append(
                ReferenceCheck(
                    face_id=face_id,
                    image_id=record.image_id,
                    image_location=record.image_location,
                    self_similarity=None if np.isnan(medians[i]) else float(medians[i]),
                    matches_others=int(np.sum(others >= threshold)),
                    others=len(others),
                    size_px=quality.size_px,
                    sharpness=quality.sharpness,
                    quality_weight=quality_weight(quality.size_px, quality.sharpness),
                    outlier=bool(outliers[i]),
                    low_quality=bool(poor),
                    reasons=outliers[i] + poor,
                )
            )
        self.audit(
            caller or Caller.python(), PERSON_CHECK_AUDIT_ACTION, f"person {person_id}",
            {"face_ids": face_ids, "outliers": [c.face_id for c in checks if c.outlier]},
        )  # fmt: skip
        return PersonReferences(
            person=person,
            threshold=threshold,
            model=self.model,
            faces=checks,
            outliers=[c.face_id for c in checks if c.outlier],
            low_quality=[c.face_id for c in checks if c.low_quality],
        )


def _within(face_ids: list[int], allowed: IdArray) -> list[int]:
    """Those of ``face_ids`` in ``allowed`` (ascending, possibly the whole gallery), found by
    binary search."""
    if not len(allowed):
        return []
    at = np.searchsorted(allowed, face_ids).clip(max=len(allowed) - 1)
    return [f for f, i in zip(face_ids, at, strict=True) if allowed[i] == f]
