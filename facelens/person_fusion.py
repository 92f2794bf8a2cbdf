"""People, not just faces: a person's faces fused into one score for a probe, and the checks
of a person's reference faces against each other.

A person's gallery is the set of their assigned faces. Searched face by face, a person with
many reference photos has many chances to look like a stranger's probe; a per-person search
gives each person one score, fused from all their faces:

- ``max``: the best of their faces' similarities;
- ``quality_mean``: the mean of their ``QUALITY_TOP_M`` best similarities, each weighted by
  the face's quality (``quality_weight``: its size and sharpness as stored at ingest).

Which is the default (``Settings.person_fusion``) was measured on LFW by
``bench/person_fusion.py`` (docs/accuracy.md, "Per-person search").

Pure functions of numbers: the engine (``facelens.engine.person_search``) and the benchmark
share them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from facelens.face_sizes import SMALL_FACE_PX
from facelens.types import FloatArray, Match, ModelId, Person

Fusion = Literal["max", "quality_mean"]
FUSIONS: tuple[Fusion, ...] = ("max", "quality_mean")

#: How many of a person's best face similarities ``quality_mean`` averages.
QUALITY_TOP_M = 3
#: Variance of Laplacian of the aligned chip under which a face is low quality (LFW's web
#: photos: 1st percentile 8, median 49; ``min_sharpness`` rejects faces under 5).
LOW_SHARPNESS = 15.0
#: A quality weight never falls under this: a poor face still counts, for less.
MIN_QUALITY_WEIGHT = 0.1
#: A person's faces are robust outliers when their self-similarity lies this many (scaled)
#: median absolute deviations under the person's median self-similarity...
OUTLIER_MADS = 3.0
#: ... and at least this far under it (a tight gallery has a tiny deviation).
OUTLIER_MIN_GAP = 0.02
#: Faces a person needs before the robust rule applies (fewer: the threshold rule only).
ROBUST_MIN_FACES = 4


def quality_weight(size_px: float, sharpness: float) -> float:
    """In [``MIN_QUALITY_WEIGHT``, 1]: 1 for a face of at least ``SMALL_FACE_PX`` (64) on its
    short side and sharpness at least ``LOW_SHARPNESS``, less in proportion below either."""
    size = min(1.0, max(0.0, size_px) / SMALL_FACE_PX)
    sharp = min(1.0, max(0.0, sharpness) / LOW_SHARPNESS)
    return max(MIN_QUALITY_WEIGHT, size * sharp)


def fuse(scores: np.ndarray, weights: np.ndarray, rule: Fusion) -> tuple[float, int]:
    """A person's one score from their faces' similarities ``scores`` (quality ``weights``,
    same order), and the index of the face that scored best."""
    scores = np.asarray(scores, dtype=np.float64)
    if not len(scores):
        raise ValueError("a person needs at least one face to be scored")
    order = np.argsort(-scores, kind="stable")
    best = int(order[0])
    if rule == "max":
        return float(scores[best]), best
    if rule == "quality_mean":
        top = order[:QUALITY_TOP_M]
        w = np.asarray(weights, dtype=np.float64)[top]
        return float(np.sum(scores[top] * w) / np.sum(w)), best
    raise ValueError(f"unknown person fusion {rule!r}; one of {', '.join(FUSIONS)}")


def fuse_probes(vectors: np.ndarray) -> tuple[FloatArray, float]:
    """One probe from several L2-normalised embeddings of the same person: the direction of
    their mean (unit length) and the mean's length. A gallery face's similarity to the
    direction times the length is the mean of its similarities to the probes: the engine
    ranks by the direction and shows that mean (``bench/person_fusion.py`` measured both)."""
    mean = np.asarray(vectors, dtype=np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm == 0.0:
        raise ValueError("the probes' embeddings cancel out")
    direction: FloatArray = (mean / norm).astype(np.float32)
    return direction, norm


@dataclass(frozen=True, slots=True)
class PersonCandidate:
    """One candidate of a per-person search: a person, scored on all their faces (the ones
    searched: of the collections named, none a reviewer rejected for them, none of someone who
    opted out), or a gallery face no person holds (``faces_compared`` 1)."""

    similarity: float  # fused (``SearchResult.person_fusion``); a lone face's own
    is_match: bool  # similarity >= threshold
    best: Match  # the face that scored best, with its own similarity
    faces_compared: int
    person_id: int | None
    person_name: str | None


@dataclass(frozen=True, slots=True)
class ReferenceCheck:
    """One of a person's faces against the person's other faces."""

    face_id: int
    image_id: int
    image_location: str
    #: The median of its similarities to the person's other faces (the upper median when they
    #: are even in number); None when it is their only face.
    self_similarity: float | None
    matches_others: int  # the other faces it matches at the threshold
    others: int
    size_px: int
    sharpness: float
    quality_weight: float
    outlier: bool  # it does not agree with the rest of the person
    low_quality: bool  # small (under 64 px) or blurred (sharpness under 15)
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PersonReferences:
    """A person's reference faces checked against each other; the flagged ones are for a
    reviewer to look at (``person reject`` or ``person split`` them if they are not the
    person)."""

    person: Person
    threshold: float
    model: ModelId
    faces: list[ReferenceCheck]
    outliers: list[int]  # face ids flagged outlier
    low_quality: list[int]  # face ids flagged low quality


def self_similarities(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of a person's faces (rows of L2-normalised ``vectors``), the upper median of
    its similarities to the others (NaN for a lone face) and the similarity matrix."""
    sims = np.asarray(vectors, dtype=np.float64) @ np.asarray(vectors, dtype=np.float64).T
    n = len(sims)
    medians = np.full(n, np.nan)
    for i in range(n):
        others = np.sort(np.delete(sims[i], i))
        if len(others):
            medians[i] = others[len(others) // 2]
    return medians, sims


def outlier_reasons(medians: np.ndarray, threshold: float) -> list[list[str]]:
    """Why each face is an outlier (empty: it is not): its self-similarity under
    ``threshold``, or (``ROBUST_MIN_FACES`` faces or more) far under the person's others by
    the median absolute deviation."""
    reasons: list[list[str]] = [[] for _ in medians]
    known = medians[~np.isnan(medians)]
    centre = float(np.median(known)) if len(known) else 0.0
    spread = 1.4826 * float(np.median(np.abs(known - centre))) if len(known) else 0.0
    for i, value in enumerate(medians):
        if np.isnan(value):
            continue
        if value < threshold:
            reasons[i].append(f"self-similarity {value:.3f} under the threshold {threshold:.4f}")
        if (
            len(known) >= ROBUST_MIN_FACES
            and value < centre - OUTLIER_MADS * spread
            and value < centre - OUTLIER_MIN_GAP
        ):
            reasons[i].append(
                f"self-similarity {value:.3f} far under the person's median {centre:.3f}"
            )
    return reasons


def quality_reasons(size_px: int, sharpness: float) -> list[str]:
    """Why a face is low quality (empty: it is not)."""
    reasons = []
    if size_px < SMALL_FACE_PX:
        reasons.append(f"small face: {size_px} px, under {SMALL_FACE_PX}")
    if sharpness < LOW_SHARPNESS:
        reasons.append(f"blurred: sharpness {sharpness:.1f}, under {LOW_SHARPNESS:g}")
    return reasons
