"""The fairness report again on normalised scores (``facelens.scoring.normalisation``), at the
threshold with the same pooled false match rate as raw similarity at the engine threshold, so
the two reports compare like with like.

The cohort is a seeded sample of the images the eval embedded; each image's statistics leave
out itself and images of its own person, as the engine leaves out faces assigned to the same
person (LFW's identities stand for assigned persons here). No group label is used to score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from facelens.config import Settings
from facelens.evaluation import fairness
from facelens.evaluation.embeddings import BenchmarkEmbedding
from facelens.scoring.normalisation import Cohort, CohortStats, normalise, sample_cohort

_CHUNK = 2000
_THRESHOLD_PAIRS = 2_000_000


def normalised_report(
    vectors: Mapping[str, BenchmarkEmbedding],
    groups: Mapping[str, str],
    settings: Settings,
    raw_block: dict[str, Any],
    *,
    searches: fairness.Searches | None,
    fpir_thresholds: Sequence[tuple[float, float]],
    seed: int,
    impostor_count: int,
) -> dict[str, Any]:
    method = (
        settings.score_normalisation if settings.score_normalisation != "none" else ("cohort_mean")
    )
    images = sorted(vectors)
    embeddings = np.stack([vectors[i].vector for i in images]).astype(np.float32)
    people = np.unique([Path(i).parent.name for i in images], return_inverse=True)[1]
    people = people.astype(np.int64)
    rows = sample_cohort(np.arange(len(images), dtype=np.int64), settings.score_cohort_size, seed)
    cohort = Cohort(
        ids=rows,
        vectors=embeddings[rows],
        top_k=min(settings.score_cohort_top_k, len(rows) - 1),  # tiny sets (tests)
        max_similarity=settings.score_cohort_max_similarity,
        person_ids=people[rows],
    )
    means, stds = [], []
    for start in range(0, len(images), _CHUNK):
        part = np.arange(start, min(start + _CHUNK, len(images)), dtype=np.int64)
        stats = cohort.stats(embeddings[part], part, people[part])
        means.append(stats.mean)
        stds.append(stats.std)
    mean, std = np.concatenate(means), np.concatenate(stds)

    def scorer(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        raw = np.einsum("nd,nd->n", embeddings[i], embeddings[j])
        return normalise(
            method, raw, CohortStats(mean[i], std[i]), CohortStats(mean[j], std[j]),
            settings.score_cohort_weight,
        )  # fmt: skip

    # The pooled raw FMR at the engine threshold, over every group's impostor sample.
    counted = raw_block["one_to_one"]["groups"]
    pooled_fmr = sum(g["false_matches"] for g in counted) / max(
        sum(g["impostor_pairs"] for g in counted), 1
    )
    # The same pooling as the raw figure: pairs within each group, as many per group.
    rng = np.random.default_rng(seed)
    labels = np.array([groups.get(Path(i).name, "") for i in images], dtype=object)
    pooled: list[np.ndarray] = []
    for label in sorted(set(labels.tolist()) - {""}):
        members = np.flatnonzero(labels == label)
        a, b = members[rng.integers(0, len(members), size=(2, _THRESHOLD_PAIRS))]
        strangers = people[a] != people[b]
        pooled.append(scorer(a[strangers], b[strangers]))
    scores = np.sort(np.concatenate(pooled))[::-1]
    allowed = int(np.floor(pooled_fmr * len(scores)))
    threshold = float(np.nextafter(scores[min(allowed, len(scores) - 1)], np.inf))
    block = fairness.of_embeddings(
        vectors, groups, threshold,
        searches=searches, fpir_thresholds=fpir_thresholds, seed=seed,
        impostor_count=impostor_count, scorer=scorer, scores=method,
    )  # fmt: skip
    block["threshold_rule"] = (
        f"the {method} score at which random different-person pairs within each group, "
        f"pooled, have the FMR ({pooled_fmr:.6f}) raw similarity has at "
        f"{settings.match_threshold}"
    )
    block["cohort"] = {
        "images": cohort.size,
        "top_k": cohort.top_k,
        "max_similarity": cohort.max_similarity,
        "weight": settings.score_cohort_weight,
        "left_out": "the image itself and images of its own person",
    }
    return block
