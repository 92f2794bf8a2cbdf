"""Search by photo and by person, and verification; each refused without a purpose where
one is needed, and logged."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from facelens.engine.probe import Probe
from facelens.engine.records import Records
from facelens.engine.scoring import Ranked, Scoring
from facelens.engine.state import SEARCH_AUDIT_ACTION, VERIFY_AUDIT_ACTION, ImageInput
from facelens.errors import (
    InvalidArgumentError,
    ModelMismatchError,
    NoFaceFoundError,
    RefusedError,
)
from facelens.person_fusion import PersonCandidate
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.embed.base import l2_normalise, similarity
from facelens.privacy.policy import check_search_purpose
from facelens.types import (
    AnalysedFace,
    Caller,
    IdArray,
    ImageAnalysis,
    Match,
    PersonSearchResult,
    ProbeFaceMatches,
    SearchDecision,
    SearchRecord,
    SearchResult,
    VerifyResult,
)

#: Sets of collections whose face ids a search keeps (the oldest dropped first).
COLLECTION_CACHE_ENTRIES = 64


class Search(Probe, Scoring, Records):
    """Search and verification, refused and logged."""

    def search(
        self,
        image: ImageInput,
        top_k: int | None = None,
        threshold: float | None = None,
        collections: Sequence[str] | None = None,
        *,
        purpose: str | None = None,
        case_ref: str | None = None,
        caller: Caller | None = None,
        per_person: bool = False,
    ) -> SearchResult:
        """For every usable face in ``image``, the ``top_k`` most similar gallery faces, best
        first, each flagged ``is_match`` when its similarity is at least ``threshold``; with
        ``per_person``, the ``top_k`` best candidates instead: persons scored on all their
        faces, and faces no person holds (``facelens.engine.person_search``).

        Every search says why: without a ``purpose`` and ``case_ref`` it is refused
        (``PurposeRequiredError``). It is logged (``log_search``) with ``caller`` (default:
        ``Caller.python()``)."""
        caller = caller or Caller.python()
        self.check_search_purpose(purpose, case_ref, caller)
        self.search_bounds(top_k, threshold)  # refused before the costly analysis
        analysis, faces = self.probe_faces(image, "probe image")
        return self.search_analysed(
            analysis, faces, top_k, threshold, collections,
            purpose=purpose, case_ref=case_ref, caller=caller, per_person=per_person,
        )  # fmt: skip

    def check_search_purpose(
        self,
        purpose: str | None,
        case_ref: str | None,
        caller: Caller,
        names: tuple[str, str] = ("purpose", "case_ref"),
    ) -> tuple[str, str]:
        """The purpose and case reference, stripped; a search without them is refused, and
        the refusal audited (``names``: what the caller calls them, for the message)."""
        try:
            return check_search_purpose(purpose, case_ref, names)
        except RefusedError as exc:
            self.record_refusal(exc, caller)
            raise

    def search_bounds(self, top_k: int | None, threshold: float | None) -> tuple[int, float]:
        """``top_k`` and ``threshold``, defaults filled in; refuses values out of range."""
        top_k = self.settings.default_top_k if top_k is None else top_k
        threshold = self.settings.match_threshold if threshold is None else threshold
        if top_k <= 0:
            raise InvalidArgumentError(f"top_k must be at least 1, got {top_k}")
        if not -1.0 <= threshold <= 1.0:
            raise InvalidArgumentError(f"threshold must be in [-1, 1], got {threshold}")
        return top_k, threshold

    def _index_candidates(
        self, queries: np.ndarray, top_k: int, decision: SearchDecision, allowed: IdArray | None
    ) -> Ranked:
        """The index's candidates, normalised and in the decision's order. With a cohort a
        shortlist is taken by raw similarity and re-ranked, so the top ``top_k`` by the
        normalised score are among it."""
        calibrated = decision.scores != "raw"
        length = max(top_k, self.settings.score_shortlist) if calibrated else top_k
        scores, ids = self.index.search(queries, length, allowed_ids=allowed)
        ranked = self.rank(queries, scores, ids, by_normalised=calibrated)
        return Ranked(
            raw=ranked.raw[:, :top_k],
            normalised=None if ranked.normalised is None else ranked.normalised[:, :top_k],
            ids=ranked.ids[:, :top_k],
        )

    def search_analysed(
        self,
        analysis: ImageAnalysis,
        faces: Sequence[AnalysedFace],
        top_k: int | None = None,
        threshold: float | None = None,
        collections: Sequence[str] | None = None,
        *,
        purpose: str | None = None,
        case_ref: str | None = None,
        caller: Caller | None = None,
        per_person: bool = False,
        probes_logged: Sequence[str] | None = None,
        similarity_scale: float = 1.0,
    ) -> SearchResult:
        """``search`` for a probe already analysed (``probe_faces``): the index and store
        part only, the part that needs the engine to itself. Refused and logged as
        ``search`` (``probes_logged``: the probe hashes to log instead of the faces';
        ``similarity_scale``: what similarities are multiplied by, for fused probes)."""
        caller = caller or Caller.python()
        purpose, case_ref = self.check_search_purpose(purpose, case_ref, caller)
        top_k, _ = self.search_bounds(top_k, threshold)
        decision = self.decision(threshold)
        if (per_person or similarity_scale != 1.0) and decision.rule != "fixed":
            # Fused scores (of a person's faces, of several probes) have no calibration of
            # their own: they are decided on raw similarity, as match_threshold was chosen.
            decision = self.decision(self.settings.match_threshold)
        embeddings = [f.embedding for f in faces if f.embedding is not None]
        for embedding in embeddings:
            if embedding.model != self.model:
                raise ModelMismatchError(
                    f"probe embedded by {embedding.model}, index holds {self.model}"
                )
        allowed = self._face_ids_in(collections)
        queries = np.stack([e.vector for e in embeddings])
        ranked = self._ranked(
            queries, top_k, decision, allowed, per_person=per_person, scale=similarity_scale
        )
        opted_out = self.suppressed(queries)  # someone who opted out is never found
        results = [
            ProbeFaceMatches(
                probe_box=face.box,
                matches=[] if hidden else matches,
                probe_sha256=hashlib.sha256(embedding.vector.tobytes()).hexdigest(),
                candidates=[] if hidden else candidates,
            )
            for face, embedding, (matches, candidates), hidden in zip(
                faces, embeddings, ranked, opted_out, strict=True
            )
        ]
        rejected = [f.quality for f in analysis.faces if not f.accepted]
        search_id = self.log_search(
            caller, purpose, case_ref, list(collections or []),
            list(probes_logged or [r.probe_sha256 for r in results]),
            [m for r in results for m in r.matches], decision.threshold, decision=decision,
        )  # fmt: skip
        return SearchResult(
            threshold=decision.threshold,
            decision=decision,
            model=self.model,
            faces=results,
            faces_rejected=rejected,
            search_id=search_id,
            probe_turned_degrees=analysis.turned_degrees,
            person_fusion=self.settings.person_fusion if per_person else None,
        )

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
        """Each probe's answer: its matches, and (``per_person``) its candidates, which
        ``PersonSearch`` (``facelens.engine.person_search``) ranks; similarities times
        ``scale`` (fused probes, decided on raw similarity)."""
        if per_person:
            raise InvalidArgumentError("this engine has no per-person search")
        ranked = self._index_candidates(queries, top_k, decision, allowed)
        if scale != 1.0:
            ranked = Ranked(raw=ranked.raw * scale, normalised=None, ids=ranked.ids)
        return [(matches, []) for matches in self._matches(ranked, decision)]

    def raw_matches(
        self, scores: np.ndarray, ids: np.ndarray, threshold: float, skip: set[int] | None = None
    ) -> list[list[Match]]:
        """``_matches`` of index answers decided on raw similarity against ``threshold``."""
        ranked = Ranked(raw=scores, normalised=None, ids=ids)
        return self._matches(ranked, self.decision(threshold), skip)

    def log_search(
        self,
        caller: Caller,
        purpose: str,
        case_ref: str,
        collections: list[str],
        probe_sha256: list[str],
        shown: list[Match],
        threshold: float,
        *,
        person_id: int | None = None,
        decision: SearchDecision | None = None,
    ) -> int | None:
        """Record who searched, why, over what, the probe embeddings' hashes and the faces
        shown (never the probe): in the audit log always, and in the search log when the
        caller is an account (its rows need one). Returns the search log's id, if any."""
        search_id = None
        if caller.account_id is not None:
            search_id = self.store.log_search(
                SearchRecord(
                    account_id=caller.account_id,
                    account_name=caller.actor,
                    purpose=purpose,
                    case_ref=case_ref,
                    collections=collections,
                    probe_faces=len(probe_sha256),
                    results=len(shown),
                    matches=sum(m.is_match for m in shown),
                    threshold=threshold,
                    searched_at=datetime.now(UTC),
                    probe_sha256=probe_sha256,
                    result_face_ids=[m.face_id for m in shown],
                )
            )
        details: dict[str, object] = {
            "purpose": purpose,
            "case_ref": case_ref,
            "collections": collections,
            "probe_sha256": probe_sha256,
            "result_face_ids": [m.face_id for m in shown],
            "matches": sum(m.is_match for m in shown),
            "threshold": threshold,
            "search_id": search_id,  # its row in the search log (None: no account)
        }
        if person_id is not None:
            details["person_id"] = person_id
        if decision is not None:
            details["decision"] = decision.rule
            details["scores"] = decision.scores
        self.audit(caller, SEARCH_AUDIT_ACTION, case_ref, details)
        return search_id

    def _face_ids_in(self, collections: Sequence[str] | None) -> IdArray | None:
        """The indexed faces of ``collections``; None (all faces) when none are named."""
        if not collections:
            return None
        # Kept while the gallery generation stands (one read of the store a search): at 10
        # million faces a collection's ids cost more to read than the search itself.
        key = tuple(sorted(set(collections)))
        generation = self.store.gallery_generation()
        cached = self._collection_faces.get(key)
        if cached is not None and cached[0] == generation:
            return cached[1]
        ids = self.store.face_ids_in_collections(list(key), self.model)
        if len(self._collection_faces) >= COLLECTION_CACHE_ENTRIES:
            self._collection_faces.pop(next(iter(self._collection_faces)))
        self._collection_faces[key] = (generation, ids)
        return ids

    def _matches(
        self, ranked: Ranked, decision: SearchDecision, skip: set[int] | None = None
    ) -> list[list[Match]]:
        """Each row of ranked candidates as matches with their sources, in order (faces of
        people who opted out left out); a match when the decision's score reaches its
        threshold."""
        ids = ranked.ids
        found = sorted({int(i) for i in ids.ravel() if i >= 0})
        records = self.store.face_records(found)
        if len(self._suppression_list()):
            for face_ids, vectors in self.store.embeddings(self.model, face_ids=found):
                for face_id in face_ids[self.suppressed(vectors)]:
                    records.pop(int(face_id), None)
        normalised = (
            ranked.normalised if ranked.normalised is not None else np.full(ids.shape, np.nan)
        )
        decided = normalised if decision.scores != "raw" else ranked.raw
        return [
            [
                Match(
                    face_id=record.face_id,
                    similarity=float(score),
                    is_match=bool(decide >= decision.threshold),
                    box=record.box,
                    image_id=record.image_id,
                    image_location=record.image_location,
                    collection=record.collection,
                    person_id=record.person_id,
                    person_name=record.person_name,
                    provenance=record.provenance,
                    normalised_score=None if np.isnan(norm) else round(float(norm), 4),
                )
                for score, norm, decide, face_id in zip(
                    row_scores, row_norm, row_decide, row_ids, strict=True
                )
                if face_id >= 0
                and int(face_id) not in (skip or set())
                and (record := records.get(int(face_id))) is not None
            ]
            for row_scores, row_norm, row_decide, row_ids in zip(
                ranked.raw, normalised, decided, ids, strict=True
            )
        ]

    def search_person(
        self,
        person_id: int,
        top_k: int | None = None,
        threshold: float | None = None,
        collections: Sequence[str] | None = None,
        *,
        purpose: str | None = None,
        case_ref: str | None = None,
        caller: Caller | None = None,
    ) -> PersonSearchResult:
        """Faces like a named person's (the mean of their faces), other than theirs and those
        a reviewer said are not them (``reject_match``). Refused without ``purpose`` and
        ``case_ref``, and logged, like ``search``."""
        caller = caller or Caller.python()
        purpose, case_ref = self.check_search_purpose(purpose, case_ref, caller)
        top_k, threshold = self.search_bounds(top_k, threshold)
        person = self.person(person_id)
        own = set(person.face_ids)
        vectors = [
            v for _, batch in self.store.embeddings(self.model, face_ids=sorted(own)) for v in batch
        ]
        if not vectors:
            raise NoFaceFoundError(f"person {person_id} ({person.name}) has no usable face")
        query = l2_normalise(np.mean(vectors, axis=0, keepdims=True).astype(np.float32))
        allowed = self._face_ids_in(collections)
        # Faces a reviewer said are not this person are never proposed for them again.
        skip = own | {r.face_id for r in self.store.rejections(person_id)}
        scores, ids = self.index.search(query, top_k + len(skip), allowed_ids=allowed)
        # A fused template is not a face: it has no calibration, so raw similarity decides.
        decision = self.decision(threshold)
        if decision.rule != "fixed":
            decision = self.decision(self.settings.match_threshold)
        ranked = self.rank(query, scores, ids, by_normalised=False)
        matches = self._matches(ranked, decision, skip=skip)[0][:top_k]
        query_sha256 = hashlib.sha256(query.tobytes()).hexdigest()
        search_id = self.log_search(
            caller, purpose, case_ref, list(collections or []), [query_sha256], matches,
            threshold, person_id=person_id,
        )  # fmt: skip
        return PersonSearchResult(
            person=person,
            threshold=threshold,
            model=self.model,
            matches=matches,
            query_sha256=query_sha256,
            search_id=search_id,
        )

    def verify(
        self,
        image_a: ImageInput,
        image_b: ImageInput,
        threshold: float | None = None,
        *,
        pipeline: FacePipeline | None = None,
        caller: Caller | None = None,
    ) -> VerifyResult:
        """Are the main (largest) faces of the two images the same person? (Touches neither
        index nor faces: see ``probe_faces`` for ``pipeline``.) Audited as ``verify``."""
        threshold = self.settings.match_threshold if threshold is None else threshold
        analysis_a, faces_a = self.probe_faces(image_a, "first image", pipeline=pipeline)
        analysis_b, faces_b = self.probe_faces(image_b, "second image", pipeline=pipeline)
        a, b = faces_a[0], faces_b[0]
        assert a.embedding is not None and b.embedding is not None
        score = similarity(a.embedding, b.embedding)
        result = VerifyResult(
            same_person=score >= threshold,
            similarity=score,
            threshold=threshold,
            box_a=a.box,
            box_b=b.box,
            model=self.model,
            turned_degrees_a=analysis_a.turned_degrees,
            turned_degrees_b=analysis_b.turned_degrees,
        )
        self.audit(
            caller or Caller.python(),
            VERIFY_AUDIT_ACTION,
            "verification",
            {"threshold": threshold, "same_person": bool(result.same_person)},
        )
        return result
