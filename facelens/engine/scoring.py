"""Normalised scores and calibrated decisions for searches (``facelens.scoring``), kept in
step with the gallery.

The cohort is a seeded sample of the gallery's faces (people who opted out left out); the
calibration, the cohort it was measured with and its impostor sample live in one file under
the data folder (derived data: ``calibrate`` makes it again from the store). Ingest calibrates
again once the gallery has changed by a tenth; erasing a face takes it out of the cohort and
of every cached statistic at once.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from facelens.engine.state import CALIBRATE_AUDIT_ACTION, SYSTEM_ACTOR, log
from facelens.engine.suppression import Suppression
from facelens.errors import InvalidArgumentError
from facelens.scoring.calibration import (
    Calibration,
    ImpostorSample,
    estimated_fpir,
    expected_false_candidates,
    sample_rows,
    threshold_for_fpir,
)
from facelens.scoring.decision import CALIBRATED, FIXED, measured_fmr
from facelens.scoring.normalisation import (
    Cohort,
    CohortStats,
    normalise,
    probe_stats,
    sample_cohort,
)
from facelens.types import Caller, FloatArray, IdArray, SearchDecision

#: Candidates kept per sampled face: enough for the expected false candidates of a top-k list.
_SAMPLE_CANDIDATES = 50
_SEED = 20261202


@dataclass(frozen=True, slots=True)
class Ranked:
    """Index candidates of each probe (rows), in the order to show them."""

    raw: np.ndarray  # (q, L) similarity
    normalised: np.ndarray | None  # (q, L) AS-norm, or None when not normalised
    ids: np.ndarray  # (q, L) face ids, -1 for none


class Scoring(Suppression):
    """The cohort, the calibration and the decision a search applies."""

    # --- the cohort ------------------------------------------------------------------------

    def scoring_cohort(self) -> Cohort | None:
        """The cohort searches are normalised against; None when normalisation is off or the
        gallery is under ``score_min_gallery_faces``."""
        settings = self.settings
        faces = self.index.count()
        if settings.score_normalisation == "none" or faces < settings.score_min_gallery_faces:
            return None
        calibration = self.calibration()
        if calibration is not None and not calibration.is_stale(faces):
            if self._cohort_faces != calibration.gallery_faces or self._cohort is None:
                self._set_cohort(np.asarray(calibration.cohort_ids, dtype=np.int64), faces)
                self._cohort_faces = calibration.gallery_faces
        elif self._cohort is None or abs(faces - self._cohort_faces) > 0.1 * self._cohort_faces:
            ids = sample_cohort(self.index.ids(), settings.score_cohort_size, _SEED)
            self._set_cohort(ids, faces)
        return self._cohort

    def _set_cohort(self, ids: IdArray, faces: int) -> None:
        found_ids, vectors = self._stored_vectors(ids)
        keep = ~self.suppressed(vectors)  # someone who opted out is not measured against
        people = self._people(found_ids)
        top_k = min(self.settings.score_cohort_top_k, max(int(keep.sum()) - 1, 1))
        self._cohort = (
            Cohort(
                ids=found_ids[keep],
                vectors=vectors[keep],
                top_k=top_k,
                max_similarity=self.settings.score_cohort_max_similarity,
                person_ids=people[keep],
            )
            if keep.sum() > top_k
            else None
        )
        self._cohort_faces = faces
        self._gallery_stats = {}

    def _people(self, face_ids: IdArray) -> IdArray:
        """The person of each face, -1 for none."""
        persons = self.store.face_persons(face_ids.tolist())
        return np.array([persons.get(i, -1) for i in face_ids.tolist()], dtype=np.int64)

    def _stored_vectors(self, face_ids: IdArray) -> tuple[IdArray, FloatArray]:
        held = self.index.stored_vectors(face_ids)  # the index holds the store's vectors
        if held is not None:
            return held
        ids: list[np.ndarray] = []
        vectors: list[np.ndarray] = []
        for batch_ids, batch in self.store.embeddings(self.model, face_ids=face_ids.tolist()):
            ids.append(batch_ids)
            vectors.append(batch)
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        return np.concatenate(ids), np.concatenate(vectors).astype(np.float32)

    def forget_faces(self, face_ids: IdArray) -> None:
        """Erased faces leave the cohort and the cached statistics (called on erasure)."""
        gone = {int(i) for i in face_ids}
        for face_id in gone:
            self._gallery_stats.pop(face_id, None)
        if self._cohort is not None and gone & set(self._cohort.ids.tolist()):
            self._cohort, self._cohort_faces = None, -1
            self._gallery_stats = {}
        calibration = self.calibration()
        if calibration is not None and gone & set(calibration.cohort_ids):
            self._save_calibration(
                _replace_cohort(calibration, [i for i in calibration.cohort_ids if i not in gone])
            )

    def _stats_of(self, cohort: Cohort, face_ids: np.ndarray) -> CohortStats:
        """Cohort statistics of gallery faces (any shape of ids, -1 for none), cached."""
        flat = np.asarray(face_ids, dtype=np.int64).ravel()
        wanted = sorted({int(i) for i in flat if i >= 0 and int(i) not in self._gallery_stats})
        if wanted:
            ids, vectors = self._stored_vectors(np.asarray(wanted, dtype=np.int64))
            if len(ids):
                people = self._people(ids)
                stats = cohort.stats(vectors, ids, people)
                for i, m, s, p in zip(
                    ids.tolist(), stats.mean, stats.std, people.tolist(), strict=True
                ):
                    self._gallery_stats[i] = (float(m), float(s), int(p))
        return self._cached_stats(face_ids)

    def _cached_stats(self, face_ids: np.ndarray) -> CohortStats:
        flat = np.asarray(face_ids, dtype=np.int64).ravel()
        pairs = [self._gallery_stats.get(int(i), (0.0, 1.0, -1)) for i in flat]
        mean = np.array([p[0] for p in pairs]).reshape(np.shape(face_ids))
        std = np.array([p[1] for p in pairs]).reshape(np.shape(face_ids))
        return CohortStats(mean=mean, std=std)

    def _persons_of(self, face_ids: np.ndarray) -> np.ndarray:
        """The person of each face (-1: none; after ``_stats_of`` has seen them)."""
        flat = [self._gallery_stats.get(int(i), (0.0, 1.0, -1))[2] for i in np.ravel(face_ids)]
        return np.array(flat, dtype=np.int64).reshape(np.shape(face_ids))

    def _pair_stats(
        self, cohort: Cohort, queries: FloatArray, ids: np.ndarray, own: IdArray | None = None
    ) -> tuple[CohortStats, CohortStats]:
        """Both sides' statistics of each (probe, candidate) comparison."""
        gallery = self._stats_of(cohort, ids)
        return probe_stats(cohort, queries, self._persons_of(ids), own), gallery

    def rank(
        self, queries: FloatArray, raw: np.ndarray, ids: np.ndarray, by_normalised: bool
    ) -> Ranked:
        """Index candidates normalised (when the gallery has a cohort) and put in order: by
        the normalised score when ``by_normalised``, else as the index gave them (raw)."""
        cohort = self.scoring_cohort()
        if cohort is None:
            return Ranked(raw=raw, normalised=None, ids=ids)
        probe, gallery = self._pair_stats(cohort, queries, ids)
        normalised = self._normalise(raw, probe, gallery)
        normalised = np.where(ids >= 0, normalised, -np.inf)
        if not by_normalised:
            return Ranked(raw=raw, normalised=normalised, ids=ids)
        order = np.argsort(-normalised, axis=1, kind="stable")
        return Ranked(
            raw=np.take_along_axis(raw, order, axis=1),
            normalised=np.take_along_axis(normalised, order, axis=1),
            ids=np.take_along_axis(ids, order, axis=1),
        )

    def scores_made(self) -> str:
        """What this engine's searches score by now: the normalisation, or "raw"."""
        return self.settings.score_normalisation if self.scoring_cohort() is not None else "raw"

    def _normalise(self, raw: np.ndarray, probe: CohortStats, gallery: CohortStats) -> np.ndarray:
        settings = self.settings
        return normalise(
            settings.score_normalisation, raw, probe, gallery, settings.score_cohort_weight
        )

    # --- the calibration -------------------------------------------------------------------

    def _calibration_path(self) -> Path:
        digest = hashlib.sha256(str(self.model).encode()).hexdigest()[:16]
        return self.settings.data_dir / "calibration" / f"{digest}.npz"

    def calibration(self) -> Calibration | None:
        """The gallery's calibration, read once (None: none made, or unreadable)."""
        if not self._calibration_read:
            self._calibration_read = True
            path = self._calibration_path()
            if path.is_file():
                try:
                    self._calibration = _read_calibration(path)
                except (OSError, ValueError, KeyError) as exc:
                    log.warning("calibration %s unreadable (%s): calibrate again", path, exc)
        return self._calibration

    def calibrate(self, *, caller: Caller | str | None = None) -> Calibration | None:
        """Measure the threshold that holds ``search_target_fpir`` on this gallery (see
        ``facelens.scoring.calibration``); None, and any old calibration removed, when the
        gallery is under ``score_min_gallery_faces``. Audited with its figures."""
        settings = self.settings
        all_ids = self.index.ids()
        if len(all_ids) < settings.score_min_gallery_faces:
            self._calibration_path().unlink(missing_ok=True)
            self._reset_scoring()
            self._calibration_read = True
            return None
        self._reset_scoring()
        self._calibration_read = True
        cohort_ids = sample_cohort(all_ids, settings.score_cohort_size, _SEED)
        self._set_cohort(cohort_ids, len(all_ids))
        cohort = self._cohort if settings.score_normalisation != "none" else None
        rows = sample_rows(len(all_ids), settings.calibration_sample_faces, _SEED + 1)
        sample_ids, sample_vectors = self._stored_vectors(all_ids[rows])
        length = min(settings.score_shortlist + 1, len(all_ids))
        raw, ids = self.index.search(sample_vectors, length)
        ids = self._strangers_only(sample_ids, ids)
        raw = np.where(ids >= 0, raw, -np.inf)
        raw_sample = ImpostorSample(_best(raw, _SAMPLE_CANDIDATES))
        if cohort is not None:
            # Each sampled face is scored as a probe is: only its own entry and the person of
            # the candidate it is compared with leave its statistics, never its own person
            # (a probe's is not known); leaving that out too made enrolled people's sampled
            # faces score strangers higher than any probe does, and raised the threshold.
            probe, gallery = self._pair_stats(cohort, sample_vectors, ids, sample_ids)
            normalised = self._normalise(raw, probe, gallery)
            sample = ImpostorSample(
                _best(np.where(ids >= 0, normalised, -np.inf), _SAMPLE_CANDIDATES)
            )
        else:
            sample = raw_sample
        calibration = Calibration(
            scores=settings.score_normalisation if cohort is not None else "raw",
            target_fpir=settings.search_target_fpir,
            threshold=threshold_for_fpir(sample, settings.search_target_fpir),
            gallery_faces=len(all_ids),
            cohort_ids=(cohort.ids.tolist() if cohort is not None else []),
            cohort_top_k=cohort.top_k if cohort is not None else 0,
            sample=sample,
            raw_sample=raw_sample,
            calibrated_at=datetime.now(UTC),
            seed=_SEED,
        )
        self._save_calibration(calibration)
        self.audit(
            caller or SYSTEM_ACTOR,
            CALIBRATE_AUDIT_ACTION,
            "calibration",
            {
                "scores": calibration.scores,
                "target_fpir": calibration.target_fpir,
                "threshold": round(calibration.threshold, 4),
                "gallery_faces": calibration.gallery_faces,
                "sampled_faces": sample.size,
            },
        )
        return calibration

    def calibrate_if_stale(self) -> None:
        """After the gallery changed: calibrate again when it moved by a tenth since the
        last calibration (or reached the size to have one)."""
        if self.settings.search_decision != "calibrated":
            return
        faces = self.index.count()
        calibration = self.calibration()
        if calibration is None:
            if faces >= self.settings.score_min_gallery_faces:
                self.calibrate()
        elif calibration.is_stale(faces):
            self.calibrate()

    def _strangers_only(self, sample_ids: IdArray, ids: np.ndarray) -> np.ndarray:
        """``ids`` with each sampled face's own entry, faces of its photo and faces assigned
        to its person set to -1: they are not strangers to it."""
        owners = self.store.face_owners(
            sorted({int(i) for i in ids.ravel() if i >= 0} | {int(i) for i in sample_ids})
        )
        out = ids.copy()
        for row, face_id in enumerate(sample_ids.tolist()):
            image, person = owners.get(face_id, (-1, None))
            for col, other in enumerate(ids[row].tolist()):
                if other < 0:
                    continue
                o_image, o_person = owners.get(other, (-2, None))
                if (
                    other == face_id
                    or o_image == image
                    or (person is not None and o_person == person)
                ):
                    out[row, col] = -1
        return out

    def _save_calibration(self, calibration: Calibration) -> None:
        path = self._calibration_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.npz")
        meta = {
            "scores": calibration.scores,
            "target_fpir": calibration.target_fpir,
            "threshold": calibration.threshold,
            "gallery_faces": calibration.gallery_faces,
            "cohort_top_k": calibration.cohort_top_k,
            "calibrated_at": calibration.calibrated_at.isoformat(),
            "seed": calibration.seed,
        }
        with partial.open("wb") as handle:
            np.savez(
                handle,
                meta=np.array(json.dumps(meta)),
                cohort_ids=np.asarray(calibration.cohort_ids, dtype=np.int64),
                sample=calibration.sample.scores,
                raw_sample=calibration.raw_sample.scores,
            )
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(path)
        self._calibration, self._calibration_read = calibration, True

    # --- the decision ----------------------------------------------------------------------

    def decision(self, threshold: float | None) -> SearchDecision:
        """The rule a search applies: a given ``threshold`` is raw similarity; without one,
        the calibrated threshold when the gallery has a current calibration on the scores the
        engine makes, else ``match_threshold``."""
        settings = self.settings
        faces = self.index.count()
        calibration = self.calibration() if faces >= settings.score_min_gallery_faces else None
        usable = (
            calibration is not None
            and settings.search_decision == "calibrated"
            and calibration.scores == self.scores_made()
        )
        if threshold is None and usable:
            assert calibration is not None
            # From the sample, so a changed search_target_fpir needs no new calibration.
            calibrated = threshold_for_fpir(calibration.sample, settings.search_target_fpir)
            return SearchDecision(
                rule=CALIBRATED,
                scores=calibration.scores,
                threshold=calibrated,
                target_fpir=settings.search_target_fpir,
                estimated_fpir=estimated_fpir(calibration.sample, calibrated),
                expected_false_candidates=expected_false_candidates(calibration.sample, calibrated),
                gallery_faces=faces,
                calibrated_gallery_faces=calibration.gallery_faces,
                calibration_stale=calibration.is_stale(faces),
            )
        used = settings.match_threshold if threshold is None else threshold
        if not -1.0 <= used <= 1.0:
            raise InvalidArgumentError(f"threshold must be in [-1, 1], got {used}")
        return SearchDecision(
            rule=FIXED,
            scores="raw",
            threshold=used,
            target_fpir=None,
            estimated_fpir=estimated_fpir(calibration.raw_sample, used) if calibration else None,
            expected_false_candidates=(
                expected_false_candidates(calibration.raw_sample, used) if calibration else None
            ),
            gallery_faces=faces,
            calibrated_gallery_faces=calibration.gallery_faces if calibration else None,
            calibration_stale=calibration.is_stale(faces) if calibration else False,
            measured_fmr=measured_fmr(used),
        )


def _best(scores: np.ndarray, keep: int) -> np.ndarray:
    """Each row sorted best first, cut to ``keep`` columns."""
    ordered = -np.sort(-scores, axis=1)
    return ordered[:, :keep].astype(np.float64)


def _replace_cohort(calibration: Calibration, cohort_ids: list[int]) -> Calibration:
    from dataclasses import replace

    return replace(calibration, cohort_ids=cohort_ids)


def _read_calibration(path: Path) -> Calibration:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        return Calibration(
            scores=str(meta["scores"]),
            target_fpir=float(meta["target_fpir"]),
            threshold=float(meta["threshold"]),
            gallery_faces=int(meta["gallery_faces"]),
            cohort_ids=[int(i) for i in data["cohort_ids"]],
            cohort_top_k=int(meta["cohort_top_k"]),
            sample=ImpostorSample(np.asarray(data["sample"], dtype=np.float64)),
            raw_sample=ImpostorSample(np.asarray(data["raw_sample"], dtype=np.float64)),
            calibrated_at=datetime.fromisoformat(meta["calibrated_at"]),
            seed=int(meta["seed"]),
        )
