"""FNIR against gallery size at a fixed FPIR, and how the gallery-calibrated threshold tracks it.

    PYTHONPATH=. .venv/bin/python -m bench.calibration --lfw ../shared/datasets/lfw \\
        --cache /tmp/eval-mtcnn.sqlite --faces 5000 20000 100000 1000000 \\
        --out bench/results/calibration.json --plot bench/results/calibration.png

Gallery at each size: a real core of LFW embeddings (facelens's own pipeline, the eval's
cache) and synthetic distractors from ``bench/gallery.py``'s model fitted to them. The core:
for every person with two or more images, image 0002 (their mate; image 0001 is the mated
query); and the single-image people that are not non-mated queries. Non-mated queries: a seeded
half of the single-image people (nowhere in the gallery). So the same queries and mates are in
every gallery, and only the distractors grow.

For each size, in this one process and on the same vectors: raw similarity and AS-norm (the
engine's ``facelens.scoring`` functions, cohort and shortlist from the default settings), each
with (a) the threshold calibrated the engine's way, on the gallery alone (a seeded sample of
gallery faces searched against the rest, leaving out the face itself and faces of the same
person), and (b) the oracle threshold, measured on the non-mated queries. Reported: the
calibrated threshold's measured FPIR (target within a factor 2), FNIR at it, FNIR at the
oracle threshold, and, for raw, FPIR and FNIR at the fixed engine threshold.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from bench.gallery import DistractorModel, real_embeddings
from facelens.config import Settings
from facelens.evaluation import metrics
from facelens.scoring.calibration import (
    ImpostorSample,
    expected_false_candidates,
    sample_rows,
    threshold_for_fpir,
)
from facelens.scoring.normalisation import (
    Cohort,
    CohortStats,
    normalise,
    sample_cohort,
    shortlist_stats,
)

_CHUNK = 100_000


def core(vectors: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    """The real gallery core and the queries (rows of ``vectors``)."""
    counts = np.bincount(labels)
    first: dict[int, int] = {}
    second: dict[int, int] = {}
    for row, label in enumerate(labels.tolist()):
        if label not in first:
            first[label] = row
        elif label not in second:
            second[label] = row
    multi = [p for p in first if counts[p] >= 2 and p in second]
    singles = np.array([first[p] for p in first if counts[p] == 1])
    nonmated = rng.permutation(singles)[: len(singles) // 2]
    distractors = np.setdiff1d(singles, nonmated)
    gallery = np.concatenate([np.array([second[p] for p in multi]), distractors])
    return {
        "gallery_rows": gallery,
        "mated_rows": np.array([first[p] for p in multi]),
        "nonmated_rows": np.sort(nonmated),
    }


def cohort_stats(gallery: np.ndarray, cohort: Cohort) -> CohortStats:
    means, stds = [], []
    for start in range(0, len(gallery), _CHUNK):
        rows = np.arange(start, min(start + _CHUNK, len(gallery)), dtype=np.int64)
        stats = cohort.stats(gallery[rows], rows)
        means.append(stats.mean)
        stds.append(stats.std)
    return CohortStats(mean=np.concatenate(means), std=np.concatenate(stds))


def run_size(
    gallery: np.ndarray,
    gallery_labels: np.ndarray,
    mated: np.ndarray,
    mated_labels: np.ndarray,
    nonmated: np.ndarray,
    settings: Settings,
    targets: list[float],
    seed: int,
) -> dict[str, Any]:
    index = faiss.IndexFlatIP(gallery.shape[1])
    index.add(gallery)
    length = settings.score_shortlist + 1
    sample = sample_rows(len(gallery), settings.calibration_sample_faces, seed)
    started = time.perf_counter()
    queries = np.concatenate([mated, nonmated, gallery[sample]])
    raw, rows = index.search(queries, length)
    search_s = time.perf_counter() - started
    raw = raw.astype(np.float64)
    n_mated, n_nonmated = len(mated), len(nonmated)
    # Calibration rows: the sampled face itself and faces of its person are no strangers.
    calib_rows = rows[n_mated + n_nonmated :]
    own = calib_rows == sample[:, None]
    same_person = (gallery_labels[calib_rows] == gallery_labels[sample][:, None]) & (
        gallery_labels[sample][:, None] >= 0
    )
    strangers = np.ones_like(rows, dtype=bool)
    strangers[n_mated + n_nonmated :] = ~(own | same_person)
    probe_ids = np.r_[np.full(n_mated + n_nonmated, -1), sample].astype(np.int64)

    cohort_rows = sample_cohort(np.arange(len(gallery)), settings.score_cohort_size, seed + 1)
    cohort = Cohort(
        cohort_rows, gallery[cohort_rows], settings.score_cohort_top_k,
        settings.score_cohort_max_similarity,
    )  # fmt: skip
    started = time.perf_counter()
    stats = cohort_stats(gallery, cohort)
    stats_s = time.perf_counter() - started
    normalised = normalise(
        settings.score_normalisation, raw, cohort.stats(queries, probe_ids),
        shortlist_stats(stats, rows), settings.score_cohort_weight,
    )  # fmt: skip
    out: dict[str, Any] = {
        "faces": len(gallery),
        "real_faces": int(np.sum(gallery_labels >= 0)),
        "search_s": round(search_s, 1),
        "cohort_stats_s": round(stats_s, 1),
    }
    for name, scores in (("raw", raw), ("normalised", normalised)):
        scores = np.where(strangers, scores, -np.inf)
        order = np.argsort(-scores, axis=1, kind="stable")
        scores = np.take_along_axis(scores, order, axis=1)
        ranked = np.take_along_axis(rows, order, axis=1)
        mated_hit = gallery_labels[ranked[:n_mated]] == mated_labels[:, None]
        mate_scores = np.where(
            mated_hit.any(axis=1),
            scores[:n_mated][np.arange(n_mated), np.argmax(mated_hit, axis=1)],
            -np.inf,
        )
        nonmated_top = scores[n_mated : n_mated + n_nonmated, 0]
        calibration = ImpostorSample(scores[n_mated + n_nonmated :, :50])
        block: dict[str, Any] = {
            "rank_1": round(float(np.mean(mated_hit[:, 0])), 6),
            "targets": [],
        }
        for target in targets:
            calibrated = threshold_for_fpir(calibration, target)
            oracle = metrics.fnir_at_fpir(nonmated_top, mate_scores, target)
            fpir = float(np.mean(nonmated_top >= calibrated))
            block["targets"].append(
                {
                    "target_fpir": target,
                    "calibrated_threshold": round(calibrated, 4),
                    "measured_fpir": round(fpir, 6),
                    "measured_over_target": round(fpir / target, 3),
                    "fnir_at_calibrated": round(float(np.mean(mate_scores < calibrated)), 6),
                    "expected_false_candidates": round(
                        expected_false_candidates(calibration, calibrated), 4
                    ),
                    "oracle_threshold": round(oracle.threshold, 4),
                    "fnir_at_oracle": round(oracle.fnir, 6),
                }
            )
        if name == "raw":
            t = settings.match_threshold
            block["at_fixed_threshold"] = {
                "threshold": t,
                "fpir": round(float(np.mean(nonmated_top >= t)), 6),
                "fnir": round(float(np.mean(mate_scores < t)), 6),
            }
        out[name] = block
    return out


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    sizes = [row["faces"] for row in report["rows"]]
    for name, style in (("raw", "--"), ("normalised", "-")):
        for i, target in enumerate(report["targets"]):
            oracle = [row[name]["targets"][i]["fnir_at_oracle"] for row in report["rows"]]
            calibrated = [row[name]["targets"][i]["fnir_at_calibrated"] for row in report["rows"]]
            left.plot(sizes, oracle, style, marker="o", label=f"{name}, FPIR {target:g} (oracle)")
            left.plot(sizes, calibrated, style, marker="x", alpha=0.6,
                      label=f"{name}, FPIR {target:g} (calibrated)")  # fmt: skip
            ratio = [row[name]["targets"][i]["measured_over_target"] for row in report["rows"]]
            right.plot(sizes, ratio, style, marker="o", label=f"{name}, target {target:g}")
    left.set(xscale="log", xlabel="gallery faces", ylabel="FNIR", title="Misses at fixed FPIR")
    right.set(xscale="log", yscale="log", xlabel="gallery faces",
              ylabel="measured FPIR / target", title="Calibrated threshold")  # fmt: skip
    right.axhspan(0.5, 2.0, color="green", alpha=0.1)
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--faces", type=int, nargs="+", required=True)
    parser.add_argument("--targets", type=float, nargs="+", default=[0.01, 0.003])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    settings = Settings()
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    vectors, labels, _ = real_embeddings(args.lfw, args.cache, args.workers)
    parts = core(vectors, labels, rng)
    real = vectors[parts["gallery_rows"]]
    real_labels = labels[parts["gallery_rows"]]
    model = DistractorModel(16, args.seed).fit(real[np.unique(real_labels, return_index=True)[1]])
    synthetic = (
        model.sample(max(args.faces) - len(real), rng)
        if max(args.faces) > len(real)
        else (np.zeros((0, real.shape[1]), dtype=np.float32))
    )
    rows = []
    for faces in sorted(args.faces):
        extra = max(faces - len(real), 0)
        gallery = np.ascontiguousarray(np.vstack([real, synthetic[:extra]]), dtype=np.float32)
        gallery_labels = np.r_[real_labels, np.full(extra, -1)].astype(np.int64)
        row = run_size(
            gallery, gallery_labels,
            vectors[parts["mated_rows"]], labels[parts["mated_rows"]],
            vectors[parts["nonmated_rows"]], settings, args.targets, args.seed,
        )  # fmt: skip
        rows.append(row)
        for name in ("raw", "normalised"):
            t = row[name]["targets"][0]
            print(
                f"{faces:>9,} {name:>7}: rank-1 {row[name]['rank_1']:.4f}  target "
                f"{t['target_fpir']}: calibrated {t['calibrated_threshold']} measured FPIR "
                f"{t['measured_fpir']:.4f} (x{t['measured_over_target']}) FNIR "
                f"{t['fnir_at_calibrated']:.4f}; oracle FNIR {t['fnir_at_oracle']:.4f}",
                flush=True,
            )
    report = {
        "real_core_faces": len(real),
        "mated_queries": len(parts["mated_rows"]),
        "nonmated_queries": len(parts["nonmated_rows"]),
        "settings": {
            "score_normalisation": settings.score_normalisation,
            "score_cohort_weight": settings.score_cohort_weight,
            "score_cohort_size": settings.score_cohort_size,
            "score_cohort_top_k": settings.score_cohort_top_k,
            "score_shortlist": settings.score_shortlist,
            "calibration_sample_faces": settings.calibration_sample_faces,
            "match_threshold": settings.match_threshold,
        },
        "distractor_model": model.describe(),
        "targets": args.targets,
        "rows": rows,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    if args.plot:
        plot(report, args.plot)


if __name__ == "__main__":
    main()
