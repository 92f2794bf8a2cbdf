"""Score normalisation against a cohort.

A raw cosine similarity means different things for different faces: some faces (and some
groups of people) sit in a crowded part of the embedding space, where strangers score high
against them, others in an empty one. Each face's ``top_k`` highest similarities to a cohort
(a seeded sample of the gallery) say how crowded its neighbourhood is: mean_x and std_x.

- ``cohort_mean`` (the default, measured best on LFW 1:N: docs/accuracy.md) takes a share of
  both faces' cohort means off the score, ``s' = s - weight * (mean_p + mean_g) / 2``: a face
  among close strangers must score higher to match.
- ``as_norm``, adaptive symmetric normalisation, standardises the score by both sides,
  ``s' = ((s - mean_p) / std_p + (s - mean_g) / std_g) / 2`` (Cumani et al., 2011; Matejka
  et al., Interspeech 2017). Dividing by the spread of dlib's top-k scores, which is small
  and noisy, made LFW's 1:N errors worse at every cohort size tried.

The cohort is a seeded sample of the gallery itself; a face's own entry in the cohort is left
out of its statistics. Pure numpy: the engine and the evaluation use the same functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from facelens.ids import IdArray, unique_ids

FloatArray = npt.NDArray[np.float32]

#: Below this spread a face's cohort scores carry no scale (a cohort of near duplicates).
_MIN_STD = 1e-3


@dataclass(frozen=True, slots=True)
class CohortStats:
    """Per face: the mean and standard deviation of its ``top_k`` best cohort scores."""

    mean: npt.NDArray[np.float64]
    std: npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Cohort:
    """The faces every score is normalised against (``ids``: their gallery face ids, -1 for
    faces from outside the gallery), and how many of each face's best scores count."""

    ids: IdArray
    vectors: FloatArray
    top_k: int
    #: Cohort scores at or above this are left out: most likely the face's own person (a
    #: gallery holds many photos of some people), not the strangers the statistics are of.
    max_similarity: float = math.inf
    #: The person each entry is assigned to (-1: none or unknown); None: none known.
    person_ids: IdArray | None = None

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.vectors):
            raise ValueError("a cohort needs one id per vector")
        if self.person_ids is not None and len(self.person_ids) != len(self.ids):
            raise ValueError("a cohort needs one person id per vector")
        if not 1 <= self.top_k < len(self.ids):
            raise ValueError(f"top_k {self.top_k} needs a cohort larger than it")

    @property
    def size(self) -> int:
        return len(self.ids)

    def stats(
        self,
        vectors: FloatArray,
        face_ids: IdArray | None = None,
        person_ids: IdArray | None = None,
    ) -> CohortStats:
        """Cohort statistics of ``vectors`` (L2-normalised rows); the cohort entry of the
        same face id (when ``face_ids`` gives them) is left out, so a gallery face is not
        normalised against itself, and so are entries of the same person (``person_ids``,
        -1 for none): they are not strangers."""
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.vectors.shape[1])
        scores = vectors @ self.vectors.T
        if face_ids is not None:
            own = np.asarray(face_ids, dtype=np.int64)[:, None] == self.ids[None, :]
            scores[own & (self.ids[None, :] >= 0)] = -np.inf
        if person_ids is not None and self.person_ids is not None:
            people = np.asarray(person_ids, dtype=np.int64)[:, None]
            scores[(people == self.person_ids[None, :]) & (people >= 0)] = -np.inf
        scores[scores >= self.max_similarity] = -np.inf
        k = self.top_k
        top = np.partition(scores, scores.shape[1] - k, axis=1)[:, -k:].astype(np.float64)
        finite = np.isfinite(top)
        count = np.maximum(finite.sum(axis=1), 1)
        values = np.where(finite, top, 0.0)
        mean = values.sum(axis=1) / count
        spread = np.sqrt(np.where(finite, (values - mean[:, None]) ** 2, 0.0).sum(axis=1) / count)
        return CohortStats(mean=mean, std=np.maximum(spread, _MIN_STD))


def probe_stats(
    cohort: Cohort,
    probes: FloatArray,
    candidate_persons: npt.NDArray[np.int64],
    probe_ids: IdArray | None = None,
) -> CohortStats:
    """The probe side of each comparison, shape (q, L): probe i's statistics when compared
    with a face of person ``candidate_persons[i, j]`` (-1: unassigned) leave that person's
    cohort entries out. The comparison asks whether the probe is that person, so their faces
    are not strangers to it; a probe of someone with many photos in the gallery would
    otherwise be measured against their own photos and miss them. ``probe_ids``: the
    probes' own face ids (gallery faces searched in calibration), left out too."""
    base = cohort.stats(probes, probe_ids)
    mean = np.repeat(base.mean[:, None], candidate_persons.shape[1], axis=1)
    std = np.repeat(base.std[:, None], candidate_persons.shape[1], axis=1)
    if cohort.person_ids is None or not (candidate_persons >= 0).any():
        return CohortStats(mean=mean, std=std)
    rows, cols = np.nonzero(candidate_persons >= 0)
    pairs = np.unique(np.stack([rows, candidate_persons[rows, cols]], axis=1), axis=0)
    for row, person in pairs.tolist():
        keep = cohort.person_ids != person
        if keep.sum() <= cohort.top_k:
            continue
        narrowed = Cohort(
            ids=cohort.ids[keep], vectors=cohort.vectors[keep], top_k=cohort.top_k,
            max_similarity=cohort.max_similarity,
        )  # fmt: skip
        own = None if probe_ids is None else probe_ids[row : row + 1]
        stats = narrowed.stats(probes[row : row + 1], own)
        at = (rows == row) & (candidate_persons[rows, cols] == person)
        mean[row, cols[at]] = stats.mean[0]
        std[row, cols[at]] = stats.std[0]
    return CohortStats(mean=mean, std=std)


def as_norm(
    raw: npt.ArrayLike, probe: CohortStats, gallery: CohortStats
) -> npt.NDArray[np.float64]:
    """AS-norm of ``raw`` scores. Shapes broadcast: ``raw`` (q, n) with ``probe`` of q faces
    and ``gallery`` of n faces (every probe against every gallery face), or ``gallery`` of
    shape (q, n) (each probe against its own shortlist), or all (n,) (pairs)."""
    s = np.asarray(raw, dtype=np.float64)
    p_mean, p_std = probe.mean, probe.std
    if s.ndim == 2 and p_mean.ndim == 1:
        p_mean, p_std = p_mean[:, None], p_std[:, None]
    result: npt.NDArray[np.float64] = 0.5 * (
        (s - p_mean) / p_std + (s - gallery.mean) / gallery.std
    )
    return result


def normalise(
    method: str, raw: npt.ArrayLike, probe: CohortStats, gallery: CohortStats, weight: float
) -> npt.NDArray[np.float64]:
    """``raw`` normalised by ``method`` ("cohort_mean" or "as_norm"); shapes as ``as_norm``."""
    if method == "as_norm":
        return as_norm(raw, probe, gallery)
    if method != "cohort_mean":
        raise ValueError(f"unknown score normalisation {method!r}")
    s = np.asarray(raw, dtype=np.float64)
    p_mean = probe.mean[:, None] if s.ndim == 2 and probe.mean.ndim == 1 else probe.mean
    result: npt.NDArray[np.float64] = s - weight * 0.5 * (p_mean + gallery.mean)
    return result


def shortlist_stats(stats: CohortStats, rows: npt.ArrayLike) -> CohortStats:
    """``stats`` of the faces at ``rows`` (any shape; -1: no face, scored as -inf later)."""
    rows = np.asarray(rows, dtype=np.int64)
    safe = np.where(rows >= 0, rows, 0)
    return CohortStats(mean=stats.mean[safe], std=stats.std[safe])


def sample_cohort(face_ids: IdArray, size: int, seed: int) -> IdArray:
    """A seeded sample of ``size`` of ``face_ids`` (all of them when fewer), sorted."""
    face_ids = unique_ids(face_ids)
    if len(face_ids) <= size:
        return face_ids
    chosen = np.random.default_rng(seed).choice(face_ids, size=size, replace=False)
    return np.sort(chosen)
