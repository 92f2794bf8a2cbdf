"""Open-set 1:N figures from a gallery and its probes, raw and AS-normalised, on plain arrays.

The same procedure as the engine's search: the index gives a shortlist by raw similarity, the
shortlist is re-ranked by the normalised score (``facelens.scoring.normalisation``), against a
seeded cohort sampled from the gallery.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from facelens.config import Settings
from facelens.evaluation import metrics
from facelens.evaluation.embeddings import FAILED_TO_ENROL, BenchmarkEmbedding
from facelens.evaluation.lfw import IdentificationSplit
from facelens.index import create_index
from facelens.pipeline.analyse import FacePipeline
from facelens.scoring.normalisation import (
    Cohort,
    CohortStats,
    normalise,
    sample_cohort,
    shortlist_stats,
)

TARGET_FPIRS = (1e-2, 3e-3)


@dataclass(frozen=True, slots=True)
class Normalisation:
    """A normalisation's method and parameters: cohort size (sampled from the gallery),
    top-k, the weight of cohort_mean, shortlist."""

    method: str
    cohort_size: int
    top_k: int
    weight: float
    shortlist: int
    max_similarity: float = math.inf
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Ranked:
    """Each probe's candidates, best first: scores (q, c) and gallery rows (q, c), -1 none."""

    scores: npt.NDArray[np.float64]
    rows: npt.NDArray[np.int64]


def gallery_cohort(gallery: npt.NDArray[np.float32], norm: Normalisation) -> Cohort:
    rows = sample_cohort(np.arange(len(gallery), dtype=np.int64), norm.cohort_size, norm.seed)
    return Cohort(
        ids=rows, vectors=gallery[rows], top_k=norm.top_k, max_similarity=norm.max_similarity
    )


def normalised_ranking(
    raw: Ranked,
    probes: npt.NDArray[np.float32],
    gallery_stats: CohortStats,
    cohort: Cohort,
    candidates: int,
    norm: Normalisation,
) -> Ranked:
    """The raw shortlist re-ranked by the normalised score, cut to ``candidates``."""
    probe_stats = cohort.stats(probes)
    scores = normalise(
        norm.method, raw.scores, probe_stats, shortlist_stats(gallery_stats, raw.rows),
        norm.weight,
    )  # fmt: skip
    scores = np.where(raw.rows >= 0, scores, -np.inf)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :candidates]
    return Ranked(
        scores=np.take_along_axis(scores, order, axis=1),
        rows=np.take_along_axis(raw.rows, order, axis=1),
    )


def figures(
    mated: Ranked,
    nonmated: Ranked,
    gallery_people: list[str],
    probe_people: list[str],
    threshold: float | None,
) -> dict[str, Any]:
    """Rank-1, rank-5, FNIR at each target FPIR and, given ``threshold``, FPIR and FNIR
    there; ``curves`` holds the CMC; ``mate_scores`` and ``nonmated_top`` the raw material
    (for the per-group report)."""
    candidates = mated.rows.shape[1]
    ranks = np.zeros(len(probe_people), dtype=np.int64)
    mate_scores = np.full(len(probe_people), -np.inf)
    for i, person in enumerate(probe_people):
        for rank, row in enumerate(mated.rows[i], start=1):
            if row >= 0 and gallery_people[row] == person:
                ranks[i], mate_scores[i] = rank, mated.scores[i, rank - 1]
                break
    curve = metrics.cmc(ranks, candidates)
    top_nonmated = nonmated.scores[:, 0]
    result: dict[str, Any] = {
        "rank_1": round(float(curve[0]), 6),
        "rank_5": round(float(curve[min(4, candidates - 1)]), 6),
        "fnir_at_fpir": [
            {
                k: round(v, 6)
                for k, v in asdict(metrics.fnir_at_fpir(top_nonmated, mate_scores, f)).items()
            }
            for f in TARGET_FPIRS
        ],
    }
    if threshold is not None:
        result["at_engine_threshold"] = {
            "threshold": threshold,
            "fpir": round(float(np.mean(top_nonmated >= threshold)), 6),
            "fnir": round(float(np.mean(mate_scores < threshold)), 6),
        }
    result["curves"] = {"cmc": curve.tolist()}
    result["mate_scores"] = mate_scores
    result["nonmated_top"] = top_nonmated
    return result


def identification_report(
    split: IdentificationSplit,
    vectors: dict[str, BenchmarkEmbedding],
    settings: Settings,
    pipeline: FacePipeline,
    candidates: int,
) -> dict[str, Any]:
    """Searches through the engine's own index backend: raw similarity (the top level of
    the result, as before) and, under ``normalised``, AS-norm as the engine applies it
    (shortlist of ``score_shortlist`` re-ranked against a cohort of ``score_cohort_size``
    gallery faces)."""
    gallery_people = [Path(g).parent.name for g in split.gallery]
    gallery = np.stack([vectors[g].vector for g in split.gallery]).astype(np.float32)
    mated_vectors = np.stack([vectors[p].vector for p in split.mated_probes]).astype(np.float32)
    nonmated_vectors = np.stack([vectors[p].vector for p in split.nonmated_probes]).astype(
        np.float32
    )
    length = max(candidates, settings.score_shortlist)
    with tempfile.TemporaryDirectory() as folder:
        index = create_index(settings.index_backend, pipeline.model, Path(folder))
        index.add(np.arange(len(gallery), dtype=np.int64), gallery)
        mated_raw = _ranked(*index.search(mated_vectors, length))
        nonmated_raw = _ranked(*index.search(nonmated_vectors, length))
    probe_people = [Path(p).parent.name for p in split.mated_probes]
    raw = figures(
        _cut(mated_raw, candidates), _cut(nonmated_raw, candidates),
        gallery_people, probe_people, settings.match_threshold,
    )  # fmt: skip
    norm = Normalisation(
        settings.score_normalisation if settings.score_normalisation != "none" else "cohort_mean",
        settings.score_cohort_size, settings.score_cohort_top_k, settings.score_cohort_weight,
        length, settings.score_cohort_max_similarity,
    )  # fmt: skip
    if norm.top_k >= min(norm.cohort_size, len(gallery)):  # a tiny gallery (tests)
        norm = replace(norm, top_k=max(min(norm.cohort_size, len(gallery)) - 1, 1))
    cohort = gallery_cohort(gallery, norm)
    stats = cohort.stats(gallery, np.arange(len(gallery), dtype=np.int64))
    normalised = figures(
        normalised_ranking(mated_raw, mated_vectors, stats, cohort, candidates, norm),
        normalised_ranking(nonmated_raw, nonmated_vectors, stats, cohort, candidates, norm),
        gallery_people, probe_people, None,
    )  # fmt: skip
    all_probes = split.mated_probes + split.nonmated_probes
    return {
        "split": {
            "gallery_images": len(split.gallery),
            "gallery_people_with_mates": split.gallery_people,
            "gallery_distractor_people": split.distractor_people,
            "held_out_people": split.held_out_people,
            "mated_probes": len(split.mated_probes),
            "nonmated_probes": len(split.nonmated_probes),
            "rule": "people with >= 2 images: held out when int(sha256(name), 16) % 5 == 0 "
            "(all their images are non-mated probes); otherwise image 0001 in the gallery and "
            "the rest mated probes. People with 1 image: in the gallery as distractors.",
        },
        "candidate_list_length": candidates,
        **_public(raw),
        "normalised": {
            "method": norm.method,
            "cohort_size": cohort.size,
            "top_k": cohort.top_k,
            "weight": norm.weight,
            "shortlist": length,
            **{k: v for k, v in _public(normalised).items() if k != "curves"},
        },
        "failure_to_enrol": sum(
            1 for p in split.gallery + all_probes if vectors[p].outcome in FAILED_TO_ENROL
        ),
        # For the per-group report: arrays, dropped before the JSON is written.
        "scores_by_probe": {
            "raw": {"mated": raw["mate_scores"], "nonmated": raw["nonmated_top"]},
            "normalised": {
                "mated": normalised["mate_scores"],
                "nonmated": normalised["nonmated_top"],
            },
        },
    }


def _ranked(scores: npt.ArrayLike, rows: npt.ArrayLike) -> Ranked:
    return Ranked(np.asarray(scores, dtype=np.float64), np.asarray(rows, dtype=np.int64))


def _cut(ranked: Ranked, candidates: int) -> Ranked:
    return Ranked(ranked.scores[:, :candidates], ranked.rows[:, :candidates])


def _public(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("mate_scores", "nonmated_top")}
