"""``facelens eval lfw``: the LFW protocols measured on facelens's own pipeline and index."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facelens.config import Settings
from facelens.errors import InvalidArgumentError
from facelens.evaluation import fairness, metrics
from facelens.evaluation.embeddings import (
    FAILED_TO_ENROL,
    FALLBACK,
    BenchmarkEmbedding,
    EmbeddingCache,
    embed_images,
)
from facelens.evaluation.identification import identification_report
from facelens.evaluation.lfw import VIEW1_TEST, VIEW1_TRAIN, VIEW2_PAIRS, LfwDataset, Pair
from facelens.evaluation.normalised_fairness import normalised_report
from facelens.pipeline.analyse import FacePipeline

PROTOCOLS = ("view1", "view2", "identification")
TARGET_FARS = (1e-2, 1e-3)
#: The default engine threshold is derived for this false match rate on View 1 train.
THRESHOLD_TARGET_FMR = 1e-3
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class EvalOptions:
    root: Path
    protocols: Sequence[str]
    workers: int
    cache_path: Path
    groups_csv: Path | None = None
    candidate_list_length: int = 20
    #: Different-person pairs per group for the fairness report's FMR (and its seed).
    impostor_pairs: int = fairness.DEFAULT_IMPOSTOR_PAIRS
    seed: int = 0


def evaluate_lfw(
    settings: Settings, options: EvalOptions, progress: Progress | None = None
) -> dict[str, Any]:
    """Every figure of the protocols asked for, as a JSON-ready dict (also holds curve data
    for the plots under the ``curves`` keys)."""
    unknown = sorted(set(options.protocols) - set(PROTOCOLS))
    if unknown:
        raise InvalidArgumentError(
            f"unknown protocol {unknown}; choose from {', '.join(PROTOCOLS)}"
        )
    dataset = LfwDataset(options.root)
    pipeline = FacePipeline(settings)
    started = time.perf_counter()
    cache = EmbeddingCache(options.cache_path)
    result: dict[str, Any] = {
        "dataset": str(options.root),
        "model": str(pipeline.model),
        "settings": {
            "detector": settings.detector,
            "detect_upsample_times": settings.detect_upsample_times,
            "chip_padding": settings.chip_padding,
            "embed_flip_average": settings.embed_flip_average,
            "embed_jitters": settings.embed_jitters,
            "min_detector_score": settings.min_detector_score,
            "min_face_size_px": settings.min_face_size_px,
            "min_sharpness": settings.min_sharpness,
            "match_threshold": settings.match_threshold,
            "index_backend": settings.index_backend,
        },
        "machine": {
            "cpus": _cpus(),
            "workers": options.workers,
            "python": platform.python_version(),
        },
    }
    groups = fairness.load_groups(options.groups_csv) if options.groups_csv else None
    every: dict[str, BenchmarkEmbedding] = {}  # every image embedded, for the fairness report
    searches: dict[str, fairness.Searches] = {}
    try:

        def embed(label: str, relative: list[str]) -> dict[str, BenchmarkEmbedding]:
            paths = [dataset.path(r) for r in relative]
            step_started = time.perf_counter()
            embedded = embed_images(
                paths,
                settings,
                cache,
                workers=options.workers,
                progress=(lambda d, t: progress(label, d, t)) if progress else None,
            )
            result.setdefault("timing_s", {})[f"embed_{label}"] = round(
                time.perf_counter() - step_started, 1
            )
            vectors = {r: embedded[dataset.path(r)] for r in relative}
            every.update(vectors)
            return vectors

        if "view1" in options.protocols:
            train = dataset.pairs(VIEW1_TRAIN)
            test = dataset.pairs(VIEW1_TEST)
            vectors = embed("view1", pair_images(train + test))
            result["view1"] = _view1(train, test, vectors)
        if "view2" in options.protocols:
            pairs = dataset.pairs(VIEW2_PAIRS)
            vectors = embed("view2", pair_images(pairs))
            result["view2"] = _view2(pairs, vectors, settings.match_threshold)
            if groups is not None:
                result["groups"] = _groups(pairs, vectors, groups, settings.match_threshold)
        if "identification" in options.protocols:
            split = dataset.identification_split()
            vectors = embed(
                "identification", split.gallery + split.mated_probes + split.nonmated_probes
            )
            result["identification"] = identification_report(
                split, vectors, settings, pipeline, options.candidate_list_length
            )
            by_probe = result["identification"].pop("scores_by_probe")
            searches = {
                kind: fairness.Searches(
                    split.nonmated_probes, scores["nonmated"], split.mated_probes, scores["mated"]
                )
                for kind, scores in by_probe.items()
            }
    finally:
        cache.close()
    if groups is not None and every:
        fairness_started = time.perf_counter()
        result["fairness"] = fairness.of_embeddings(
            every,
            groups,
            settings.match_threshold,
            searches=searches.get("raw"),
            fpir_thresholds=[
                (p["target_fpir"], p["threshold"])
                for p in result.get("identification", {}).get("fnir_at_fpir", [])
            ],
            seed=options.seed,
            impostor_count=options.impostor_pairs,
        )
        result["fairness_normalised"] = normalised_report(
            every,
            groups,
            settings,
            result["fairness"],
            searches=searches.get("normalised"),
            fpir_thresholds=[
                (p["target_fpir"], p["threshold"])
                for p in result.get("identification", {})
                .get("normalised", {})
                .get("fnir_at_fpir", [])
            ],
            seed=options.seed,
            impostor_count=options.impostor_pairs,
        )
        result.setdefault("timing_s", {})["fairness"] = round(
            time.perf_counter() - fairness_started, 1
        )
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    # A rerun is fast because nothing is embedded again: say so next to the time.
    result["images_embedded"] = cache.misses
    result["images_from_cache"] = cache.hits
    return result


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


def pair_images(pairs: list[Pair]) -> list[str]:
    """Every image the pairs name, once, in order of first appearance."""
    return list(dict.fromkeys(p for pair in pairs for p in (pair.image_a, pair.image_b)))


def pair_scores(
    pairs: list[Pair],
    vectors: dict[str, BenchmarkEmbedding],
    vectors_b: dict[str, BenchmarkEmbedding] | None = None,
) -> np.ndarray:
    """Cosine similarity of each pair, shape (n,): ``image_a`` from ``vectors``, ``image_b``
    from ``vectors_b`` when given (the same images, changed: the face size curve), else from
    ``vectors``."""
    a = np.stack([vectors[p.image_a].vector for p in pairs])
    b = np.stack([(vectors if vectors_b is None else vectors_b)[p.image_b].vector for p in pairs])
    scores: np.ndarray = np.clip(np.sum(a * b, axis=1), -1.0, 1.0)
    return scores


def _enrolment(pairs: list[Pair], vectors: dict[str, BenchmarkEmbedding]) -> dict[str, Any]:
    images = pair_images(pairs)
    failed = [i for i in images if vectors[i].outcome in FAILED_TO_ENROL]
    failed_set = set(failed)
    return {
        "images": len(images),
        "failure_to_enrol": len(failed),
        "failure_to_enrol_rate": round(len(failed) / len(images), 5),
        "no_face_detected": sum(1 for i in failed if vectors[i].outcome == FALLBACK),
        "pairs_with_a_failed_image": sum(
            1 for p in pairs if p.image_a in failed_set or p.image_b in failed_set
        ),
        "policy": "the accepted face nearest the image centre; when no face passes the quality "
        "checks, the detection nearest the centre; when none is detected, the central square "
        "(44% of the short side); every pair is scored",
        "failed_images": failed,
    }


def verification(scores: np.ndarray, same: np.ndarray) -> dict[str, Any]:
    """ROC AUC, EER and TAR at each of ``TARGET_FARS``; ``curves`` holds the ROC's points."""
    curve = metrics.roc(scores, same)
    return {
        "roc_auc": round(metrics.auc(curve), 6),
        "eer": round(metrics.eer(curve), 6),
        "tar_at_far": [
            {k: round(v, 6) for k, v in asdict(metrics.tar_at_far(curve, far)).items()}
            for far in TARGET_FARS
        ],
        "curves": {"far": curve.far.tolist(), "tar": curve.tar.tolist()},
    }


def _at_threshold(scores: np.ndarray, same: np.ndarray, threshold: float) -> dict[str, float]:
    return {
        "threshold": threshold,
        "fmr": round(float(np.mean(scores[~same] >= threshold)), 6),
        "fnmr": round(float(np.mean(scores[same] < threshold)), 6),
        "accuracy": round(metrics.accuracy(scores, same, threshold), 6),
    }


def _view1(
    train: list[Pair], test: list[Pair], vectors: dict[str, BenchmarkEmbedding]
) -> dict[str, Any]:
    train_scores, train_same = pair_scores(train, vectors), np.array([p.same for p in train])
    test_scores, test_same = pair_scores(test, vectors), np.array([p.same for p in test])
    best = metrics.best_accuracy_threshold(train_scores, train_same)
    impostors = np.sort(train_scores[~train_same])[::-1]
    allowed = int(np.floor(THRESHOLD_TARGET_FMR * len(impostors)))
    # The next 4-decimal figure strictly above the impostor score we may not accept.
    at_fmr = round(float(np.floor(impostors[allowed] * 1e4) / 1e4 + 1e-4), 4)
    all_scores, all_same = np.r_[train_scores, test_scores], np.r_[train_same, test_same]
    # A steadier figure for comparing settings: 10 folds over all 3,200 View 1 pairs.
    folded = metrics.folded_accuracy(all_scores, all_same, np.arange(len(all_scores)) % 10)
    return {
        "train_pairs": len(train),
        "test_pairs": len(test),
        "ten_fold_accuracy_all_pairs": round(folded.mean, 6),
        "enrolment": _enrolment(train + test, vectors),
        "best_accuracy_threshold": round(best, 6),
        "best_accuracy_threshold_on_train": _at_threshold(train_scores, train_same, best),
        "best_accuracy_threshold_on_test": _at_threshold(test_scores, test_same, best),
        "threshold_at_fmr_1e-3": at_fmr,
        "threshold_at_fmr_1e-3_on_train": _at_threshold(train_scores, train_same, at_fmr),
        "threshold_at_fmr_1e-3_on_test": _at_threshold(test_scores, test_same, at_fmr),
        "highest_train_impostor_similarities": [round(float(x), 5) for x in impostors[:5]],
        **{"test_" + k: v for k, v in verification(test_scores, test_same).items()},
    }


def _view2(
    pairs: list[Pair], vectors: dict[str, BenchmarkEmbedding], match_threshold: float
) -> dict[str, Any]:
    scores = pair_scores(pairs, vectors)
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    folded = metrics.folded_accuracy(scores, same, folds)
    return {
        "pairs": len(pairs),
        "folds": len(folded.fold_accuracies),
        "mean_accuracy": round(folded.mean, 6),
        "std_accuracy": round(folded.std, 6),
        "standard_error": round(folded.standard_error, 6),
        "fold_accuracies": [round(a, 6) for a in folded.fold_accuracies],
        "fold_thresholds": [round(t, 6) for t in folded.fold_thresholds],
        "at_engine_threshold": _at_threshold(scores, same, match_threshold),
        "enrolment": _enrolment(pairs, vectors),
        "errors": _errors(pairs, vectors, scores, folds, folded.fold_thresholds),
        **verification(scores, same),
    }


def _errors(
    pairs: list[Pair],
    vectors: dict[str, BenchmarkEmbedding],
    scores: np.ndarray,
    folds: np.ndarray,
    thresholds: list[float],
) -> dict[str, Any]:
    """The pairs each fold gets wrong at its own threshold: what holds the accuracy down."""
    wrong = []
    for i, pair in enumerate(pairs):
        threshold = thresholds[int(folds[i])]
        if (scores[i] >= threshold) != pair.same:
            wrong.append((i, pair, threshold))

    def failed(pair: Pair) -> bool:
        return any(vectors[x].outcome in FAILED_TO_ENROL for x in (pair.image_a, pair.image_b))

    with_failure = sum(1 for _, pair, _ in wrong if failed(pair))
    return {
        "count": len(wrong),
        "same_person_rejected": sum(1 for _, pair, _ in wrong if pair.same),
        "different_people_accepted": sum(1 for _, pair, _ in wrong if not pair.same),
        "with_a_failed_enrolment": with_failure,
        "accuracy_if_those_were_right": round(1 - (len(wrong) - with_failure) / len(pairs), 6),
        "pairs": [
            {
                "image_a": pair.image_a,
                "image_b": pair.image_b,
                "same": pair.same,
                "similarity": round(float(scores[i]), 5),
                "fold_threshold": round(threshold, 5),
                "outcomes": [vectors[pair.image_a].outcome, vectors[pair.image_b].outcome],
            }
            for i, pair, threshold in wrong
        ],
    }


def _groups(
    pairs: list[Pair],
    vectors: dict[str, BenchmarkEmbedding],
    groups: dict[str, str],
    threshold: float,
) -> dict[str, Any]:
    """View 2's pairs only (few impostor pairs per group): the NIST-style figures are the
    ``fairness`` block's."""
    scores = pair_scores(pairs, vectors)
    same = np.array([p.same for p in pairs])
    rates = metrics.group_rates(
        scores,
        same,
        [groups.get(Path(p.image_a).name) for p in pairs],
        [groups.get(Path(p.image_b).name) for p in pairs],
        threshold,
    )
    return {
        "threshold": threshold,
        "protocol": "LFW View 2 pairs whose two images are both in the group (too few "
        "impostor pairs to resolve a group's FMR: see fairness for that)",
        "rates": [asdict(r) for r in rates],
        "fmr_max_over_min": metrics.fmr_ratio(rates),
    }
