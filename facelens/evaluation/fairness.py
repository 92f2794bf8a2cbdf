"""Error rates by group, measured the way NIST's demographic study (NISTIR 8280) measures them.

1:1: per group, FMR from a large seeded random sample of different-person pairs whose two
images are both in the group (at least a million by default, so that rates of 1e-4 are
resolved), FNMR from every same-person pair within the group, both at one global threshold;
the ratio of the highest to the lowest group FMR (and FNMR); cross-group impostor FMR for
context; and FMR/FNMR against the threshold per group, for the curves NISTIR 8280 plots.

1:N: per group of the probe, FPIR of the non-mated searches and FNIR of the mated searches at
one global threshold, and the ratio of the highest to the lowest group FPIR.

The 1:1 scores are pluggable: ``scorer`` maps arrays of image indices ``(i, j)`` to the scores
of those pairs (by default the cosine similarity of the embeddings), so the same report can be
made for raw and for normalised scores; ``scores`` names which in the JSON.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from facelens.errors import InvalidArgumentError
from facelens.evaluation.embeddings import FAILED_TO_ENROL, BenchmarkEmbedding

Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]
Indices = npt.NDArray[np.int64]
DEFAULT_IMPOSTOR_PAIRS = 2_000_000
#: Pairs scored at a time (bounds the memory of gathering the two embeddings).
CHUNK = 1 << 18
#: Points of the FMR/FNMR-against-threshold curves.
CURVE_POINTS = 241


def load_groups(csv_path: Path) -> dict[str, str]:
    """``csv_path``: a header ``image,group`` and one row per image, the image named by its
    path under the dataset root (``images/Name/Name_0001.jpg``) or its file name. Returns
    file name -> group."""
    groups: dict[str, str] = {}
    with csv_path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"image", "group"} <= set(reader.fieldnames):
            raise InvalidArgumentError(f"{csv_path}: expected the columns image,group")
        for row in reader:
            groups[Path(row["image"]).name] = row["group"]
    return groups


def cosine_scorer(embeddings: np.ndarray) -> Scorer:
    """Cosine similarity of L2-normalised embeddings (n x d)."""

    def score(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        dots: np.ndarray = np.clip(np.einsum("ij,ij->i", embeddings[i], embeddings[j]), -1, 1)
        return dots

    return score


def score_pairs(scorer: Scorer, i: np.ndarray, j: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """``scorer`` over the pairs ``(i[k], j[k])``, ``chunk`` pairs at a time, as float64."""
    parts = [
        np.asarray(scorer(i[s : s + chunk], j[s : s + chunk]), dtype=np.float64)
        for s in range(0, len(i), chunk)
    ]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)


# --- pairs ---------------------------------------------------------------------------------


def genuine_pairs(members: Indices, people: np.ndarray) -> tuple[Indices, Indices]:
    """Every unordered pair of two images in ``members`` (image indices) of the same person."""
    order = members[np.argsort(people[members], kind="stable")]
    _, starts, counts = np.unique(people[order], return_index=True, return_counts=True)
    firsts, seconds = [], []
    for start, count in zip(starts, counts, strict=True):
        if count >= 2:
            a, b = np.triu_indices(int(count), 1)
            firsts.append(order[start + a])
            seconds.append(order[start + b])
    if not firsts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(firsts).astype(np.int64), np.concatenate(seconds).astype(np.int64)


def _within(members: Indices) -> tuple[int, Callable[[Indices], tuple[Indices, Indices]]]:
    """The unordered pairs of ``members``: their number, and linear index k -> (i, j)."""
    n = len(members)

    def decode(k: Indices) -> tuple[Indices, Indices]:
        # k = a (a - 1) / 2 + b with 0 <= b < a: a from the square root, then corrected.
        a = np.floor((1.0 + np.sqrt(1.0 + 8.0 * k.astype(np.float64))) / 2.0).astype(np.int64)
        a -= (a * (a - 1) // 2 > k).astype(np.int64)
        a += ((a + 1) * a // 2 <= k).astype(np.int64)
        b = k - a * (a - 1) // 2
        return members[a], members[b]

    return n * (n - 1) // 2, decode


def _across(
    first: Indices, second: Indices
) -> tuple[int, Callable[[Indices], tuple[Indices, Indices]]]:
    """The pairs of one image of ``first`` and one of ``second``."""

    def decode(k: Indices) -> tuple[Indices, Indices]:
        return first[k // len(second)], second[k % len(second)]

    return len(first) * len(second), decode


def impostor_pairs(
    space: tuple[int, Callable[[Indices], tuple[Indices, Indices]]],
    available: int,
    people: np.ndarray,
    count: int,
    rng: np.random.Generator,
) -> tuple[Indices, Indices]:
    """``count`` distinct different-person pairs drawn uniformly from ``space`` (every one of
    them when ``count >= available``, the number of different-person pairs in it)."""
    total, decode = space
    if count >= available:
        k = np.arange(total, dtype=np.int64)
        i, j = decode(k)
        keep = people[i] != people[j]
        return i[keep], j[keep]
    chosen = np.empty(0, dtype=np.int64)
    while len(chosen) < count:
        # The distinct draws of iid uniform draws are a uniform subset, and so are those of
        # them that are different-person pairs; a uniform subset of it is taken below.
        draw = int((count - len(chosen)) * total / available * 1.05) + 64
        k = rng.integers(0, total, size=draw, dtype=np.int64)
        i, j = decode(k)
        chosen = _distinct(np.concatenate([chosen, k[people[i] != people[j]]]))
    chosen = np.sort(chosen[rng.choice(len(chosen), size=count, replace=False)])
    return decode(chosen)


def _distinct(values: Indices) -> Indices:
    """Sorted distinct values (a sort: faster here than numpy's hash-based unique)."""
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


# --- rates ---------------------------------------------------------------------------------


def _rate(hits: int, n: int) -> float | None:
    return round(hits / n, 8) if n else None


def max_over_min(rates: dict[str, float | None]) -> dict[str, Any]:
    """Highest rate over lowest and the groups they belong to; ``ratio`` None when fewer than
    two groups have a rate or the lowest is zero (unbounded: read the counts instead)."""
    known = {g: r for g, r in rates.items() if r is not None}
    if len(known) < 2:
        return {"ratio": None, "highest": None, "lowest": None}
    highest = max(known, key=lambda g: known[g])
    lowest = min(known, key=lambda g: known[g])
    low = known[lowest]
    ratio = round(known[highest] / low, 4) if low > 0 else None
    return {"ratio": ratio, "highest": highest, "lowest": lowest}


def _curve(scores: np.ndarray, grid: np.ndarray, accepted: bool) -> list[float]:
    """The share of ``scores`` at or above (``accepted``) or below each threshold of ``grid``."""
    below = np.searchsorted(np.sort(scores), grid, side="left")
    share = ((len(scores) - below) if accepted else below) / max(len(scores), 1)
    return [round(float(x), 8) for x in share]


def one_to_one(
    embeddings: np.ndarray,
    people: Sequence[str],
    groups: Sequence[str | None],
    threshold: float,
    *,
    seed: int = 0,
    impostor_count: int = DEFAULT_IMPOSTOR_PAIRS,
    scorer: Scorer | None = None,
    thresholds: Sequence[float] | None = None,
    fmr_targets: Sequence[float] = (1e-3, 1e-4),
) -> dict[str, Any]:
    """Verification error rates per group (see the module's docstring). ``embeddings``: one
    L2-normalised row per image; ``people`` and ``groups`` (None: unlabelled) per image;
    ``scorer`` maps image index arrays to scores (default: cosine of ``embeddings``);
    ``thresholds``: where else to report the rates (default: ``threshold`` +- 0.01, 0.02, a
    cosine scale: give them for other scores); ``fmr_targets``: also at the thresholds where
    the groups' impostor samples pooled (each group weighing its sample) have that FMR."""
    score = scorer if scorer is not None else cosine_scorer(embeddings)
    person_ids = np.unique(np.asarray(people), return_inverse=True)[1].astype(np.int64)
    labels = sorted({g for g in groups if g is not None})
    group_of = np.array([g if g is not None else "" for g in groups], dtype=object)
    members = {g: np.flatnonzero(group_of == g).astype(np.int64) for g in labels}
    rng = np.random.default_rng(seed)
    impostor: dict[str, np.ndarray] = {}
    genuine: dict[str, np.ndarray] = {}
    rows: list[dict[str, Any]] = []
    for g in labels:
        gi, gj = genuine_pairs(members[g], person_ids)
        space = _within(members[g])
        ii, ij = impostor_pairs(space, space[0] - len(gi), person_ids, impostor_count, rng)
        impostor[g], genuine[g] = score_pairs(score, ii, ij), score_pairs(score, gi, gj)
        false_matches = int(np.sum(impostor[g] >= threshold))
        false_non_matches = int(np.sum(genuine[g] < threshold))
        rows.append(
            {
                "group": g,
                "images": len(members[g]),
                "people": len(np.unique(person_ids[members[g]])),
                "impostor_pairs": len(impostor[g]),
                "impostor_pairs_available": space[0] - len(gi),
                "false_matches": false_matches,
                "fmr": _rate(false_matches, len(impostor[g])),
                "genuine_pairs": len(genuine[g]),
                "false_non_matches": false_non_matches,
                "fnmr": _rate(false_non_matches, len(genuine[g])),
            }
        )
    cross, cross_scores = [], {}
    for a, b in combinations(labels, 2):
        space = _across(members[a], members[b])
        same = sum(
            int(np.sum(person_ids[members[b]] == p)) for p in np.unique(person_ids[members[a]])
        )
        ci, cj = impostor_pairs(space, space[0] - same, person_ids, impostor_count, rng)
        cross_scores[f"{a}-{b}"] = s = score_pairs(score, ci, cj)
        hits = int(np.sum(s >= threshold))
        cross.append(
            {
                "groups": [a, b],
                "impostor_pairs": len(s),
                "false_matches": hits,
                "fmr": _rate(hits, len(s)),
            }
        )
    if thresholds is None:
        thresholds = [round(threshold + d, 4) for d in (-0.02, -0.01, 0.0, 0.01, 0.02)]

    def at(t: float) -> dict[str, Any]:
        fmr = {g: _rate(int(np.sum(impostor[g] >= t)), len(impostor[g])) for g in labels}
        fnmr = {g: _rate(int(np.sum(genuine[g] < t)), len(genuine[g])) for g in labels}
        return {
            "threshold": t,
            "fmr": fmr,
            "fnmr": fnmr,
            "fmr_max_over_min": max_over_min(fmr)["ratio"],
            "fnmr_max_over_min": max_over_min(fnmr)["ratio"],
        }

    pooled = np.sort(np.concatenate([np.empty(0), *impostor.values()]))[::-1]
    at_pooled = []
    for target in fmr_targets:
        allowed = int(np.floor(target * len(pooled)))
        if allowed < len(pooled):  # the most lenient 6-decimal threshold letting that many by
            t = float(np.ceil(np.nextafter(pooled[allowed], np.inf) * 1e6) / 1e6)
            at_pooled.append({"pooled_fmr_target": target, **at(t)})
    everything = [pooled, *genuine.values()]
    low = min([float(np.median(x)) for x in impostor.values() if len(x)] + [threshold])
    high = max([float(x.max()) for x in everything if len(x)] + [threshold])
    grid = np.linspace(low, high, CURVE_POINTS)
    return {
        "threshold": threshold,
        "groups": rows,
        "fmr_max_over_min": max_over_min({r["group"]: r["fmr"] for r in rows}),
        "fnmr_max_over_min": max_over_min({r["group"]: r["fnmr"] for r in rows}),
        "cross_group": cross,
        "at_thresholds": [at(t) for t in sorted(set(thresholds))],
        "at_pooled_fmr": at_pooled,
        "curves": {
            "thresholds": [round(float(t), 6) for t in grid],
            "fmr": {g: _curve(impostor[g], grid, True) for g in labels},
            "fnmr": {g: _curve(genuine[g], grid, False) for g in labels},
            "cross_fmr": {k: _curve(s, grid, True) for k, s in cross_scores.items()},
        },
    }


def one_to_many(
    nonmated_top: np.ndarray,
    nonmated_groups: Sequence[str | None],
    mate_scores: np.ndarray,
    mated_groups: Sequence[str | None],
    thresholds: Sequence[float],
) -> dict[str, Any]:
    """FPIR per group of the non-mated probes (from each search's best candidate score) and
    FNIR per group of the mated probes (the mate's score, ``-inf`` when not in the candidate
    list), at each threshold; the first threshold's is the headline."""
    top = np.asarray(nonmated_top, dtype=np.float64)
    mates = np.asarray(mate_scores, dtype=np.float64)
    labels = sorted({g for g in [*nonmated_groups, *mated_groups] if g is not None})
    nonmated_of = np.array([g if g is not None else "" for g in nonmated_groups], dtype=object)
    mated_of = np.array([g if g is not None else "" for g in mated_groups], dtype=object)
    points = []
    for t in thresholds:
        rows: list[dict[str, Any]] = []
        for g in labels:
            n = top[nonmated_of == g]
            m = mates[mated_of == g]
            false_positives, false_negatives = int(np.sum(n >= t)), int(np.sum(m < t))
            rows.append(
                {
                    "group": g,
                    "nonmated_probes": len(n),
                    "false_positives": false_positives,
                    "fpir": _rate(false_positives, len(n)),
                    "mated_probes": len(m),
                    "false_negatives": false_negatives,
                    "fnir": _rate(false_negatives, len(m)),
                }
            )
        points.append(
            {
                "threshold": float(t),
                "groups": rows,
                "fpir_max_over_min": max_over_min({r["group"]: r["fpir"] for r in rows}),
                "fnir_max_over_min": max_over_min({r["group"]: r["fnir"] for r in rows}),
            }
        )
    return {**points[0], "at_thresholds": points[1:]}


# --- on an evaluation's embeddings ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Searches:
    """The 1:N protocol's searches: each non-mated probe's best candidate score, and each
    mated probe's mate score (``-inf`` when the mate was not in the candidate list)."""

    nonmated_probes: list[str]
    nonmated_top: np.ndarray
    mated_probes: list[str]
    mate_scores: np.ndarray


def of_embeddings(
    vectors: Mapping[str, BenchmarkEmbedding],
    groups: Mapping[str, str],
    threshold: float,
    *,
    searches: Searches | None = None,
    fpir_thresholds: Sequence[tuple[float, float]] = (),
    seed: int = 0,
    impostor_count: int = DEFAULT_IMPOSTOR_PAIRS,
    scorer: Scorer | None = None,
    scores: str = "raw",
) -> dict[str, Any]:
    """The JSON block over ``vectors`` (relative path ``images/Name/Name_0001.jpg`` ->
    embedding; the person is the folder's name), ``groups`` naming images by file name: both
    parts, what the scores are (``scores``), how they were measured; the 1:1 curves under
    ``curves`` (curves.json). A ``scorer`` takes indices into the images sorted by path.
    ``fpir_thresholds``: (overall FPIR target, its threshold) pairs for the 1:N rates."""
    images = sorted(vectors)
    labels = [groups.get(Path(i).name) for i in images]
    rates = one_to_one(
        np.stack([vectors[i].vector for i in images]).astype(np.float32),
        [Path(i).parent.name for i in images],
        labels,
        threshold,
        seed=seed,
        impostor_count=impostor_count,
        scorer=scorer,
    )
    named = sorted({g for g in labels if g is not None})
    failed = [
        g for i, g in zip(images, labels, strict=True) if vectors[i].outcome in FAILED_TO_ENROL
    ]
    counted: dict[str, Any] = {g: labels.count(g) for g in named}
    counted["unlabelled"] = labels.count(None)
    counted["failure_to_enrol"] = {g: failed.count(g) for g in named}
    ident = None
    targets = [(f, t) for f, t in fpir_thresholds if np.isfinite(t)]
    if searches is not None:

        def group(probes: list[str]) -> list[str | None]:
            return [groups.get(Path(p).name) for p in probes]

        ident = one_to_many(
            searches.nonmated_top,
            group(searches.nonmated_probes),
            searches.mate_scores,
            group(searches.mated_probes),
            [threshold, *(t for _, t in targets)],
        )
        for point, (target, _) in zip(ident["at_thresholds"], targets, strict=True):
            point["overall_fpir_target"] = target
    protocol = (
        "1:1 over every LFW image the eval embedded that the CSV labels, at one global "
        f"threshold: per group, FMR from {impostor_count:,} distinct different-person pairs "
        f"drawn uniformly at random (seed {seed}) from all pairs of two images of the group "
        "(all of them when there are fewer), FNMR from every same-person pair of two images "
        "of the group (NISTIR 8280's convention); cross-group FMR likewise from pairs of one "
        "image of each group. Images that failed to enrol (a rejected face or the central "
        "region embedded) are kept and scored, as in every figure of the eval. 1:N: the "
        "identification protocol's searches, each probe counted in its own group: FPIR over "
        "the non-mated probes, FNIR over the mated probes, at the engine threshold and at the "
        "thresholds of the overall FPIR targets; a group's FPIR rests on its few non-mated "
        "probes: read the counts."
    )
    return {
        "scores": scores,
        "protocol": protocol,
        "seed": seed,
        "images": counted,
        "one_to_one": {k: v for k, v in rates.items() if k != "curves"},
        "one_to_many": ident,
        "curves": rates["curves"],
    }
