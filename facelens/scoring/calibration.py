"""Thresholds calibrated on the gallery's own impostor scores, for a target FPIR.

A fixed similarity threshold holds a false match rate per comparison; a 1:N search makes as
many comparisons as the gallery has faces, so its false-positive identification rate (FPIR:
the share of searches for someone absent that still return a candidate) grows with the
gallery. The calibration measures it where it is: a seeded sample of gallery faces is
searched against the rest of the gallery exactly as a probe would be, leaving out the face
itself, faces of the same photo and faces assigned to the same person (they are not
strangers to it); the best remaining candidate of each is a stranger's best score at this
gallery size. The threshold for a target FPIR is the score that at most that share of the
sample reaches, and the number of candidates at or above a threshold, averaged over the
sample, is how many false candidates a search is expected to return there.

Faces that are the same person but not assigned to one are left in: the estimate errs
towards a higher threshold (fewer false candidates, more missed mates), never the other way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

#: The gallery may change by this share of its faces before a calibration counts as stale.
STALE_FRACTION = 0.1


@dataclass(frozen=True, slots=True)
class ImpostorSample:
    """Per sampled gallery face, its candidates other than itself, the same photo and the
    same person, best first (``scores`` (S, L), -inf where fewer than L remained)."""

    scores: npt.NDArray[np.float64]

    @property
    def size(self) -> int:
        return int(self.scores.shape[0])

    @property
    def best(self) -> npt.NDArray[np.float64]:
        return self.scores[:, 0] if self.scores.shape[1] else np.full(self.size, -np.inf)


def threshold_for_fpir(sample: ImpostorSample, target_fpir: float) -> float:
    """The most lenient threshold whose FPIR on the sample is at most ``target_fpir``."""
    if not 0.0 < target_fpir < 1.0:
        raise ValueError(f"a target FPIR must be in (0, 1), got {target_fpir}")
    best = np.sort(sample.best)[::-1]
    allowed = int(np.floor(target_fpir * len(best)))
    if allowed >= len(best):
        return -np.inf
    return float(np.nextafter(best[allowed], np.inf))


def estimated_fpir(sample: ImpostorSample, threshold: float) -> float:
    """The share of sampled searches with a stranger at or above ``threshold``."""
    return float(np.mean(sample.best >= threshold))


def expected_false_candidates(sample: ImpostorSample, threshold: float) -> float:
    """Strangers a search returns at or above ``threshold``, on average (of the first L)."""
    return float(np.mean(np.sum(sample.scores >= threshold, axis=1)))


@dataclass(frozen=True, slots=True)
class Calibration:
    """One calibration of a gallery: what was measured, on how many faces, and when."""

    #: "as_norm" or "raw": the scores the sample (and the threshold) are on.
    scores: str
    target_fpir: float
    threshold: float
    gallery_faces: int
    cohort_ids: list[int]
    cohort_top_k: int
    sample: ImpostorSample
    #: The same sample's raw similarities, for expected false candidates at a raw threshold.
    raw_sample: ImpostorSample
    calibrated_at: datetime
    seed: int

    def is_stale(self, gallery_faces: int) -> bool:
        change = abs(gallery_faces - self.gallery_faces)
        return change > STALE_FRACTION * max(self.gallery_faces, 1)


def sample_rows(total: int, size: int, seed: int) -> npt.NDArray[np.int64]:
    """Seeded rows of a gallery of ``total`` faces to search against the rest."""
    if total <= size:
        return np.arange(total, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(total, size=size, replace=False))
