"""Score normalisation against raw similarity on LFW's open-set 1:N split: methods, cohorts.

    PYTHONPATH=. .venv/bin/python -m bench.score_normalisation --lfw ../shared/datasets/lfw \\
        --cache /tmp/eval-mtcnn.sqlite --out bench/results/score-normalisation.json

The split is ``facelens eval lfw``'s (``LfwDataset.identification_split``): 5,749 people, the
gallery holds image 0001 of each person not held out, plus every single-image person. The
embeddings come from the eval's cache (embedded with the default settings when missing). Both
rows of every comparison are measured in this one process on the same embeddings: raw
similarity (today's rule), AS-norm and cohort_mean (``facelens.scoring.normalisation``) with
each cohort size, top-k and weight asked for; the shortlist re-ranked is the same for all. The
probes are split in two halves by a hash of the person's name: settings are chosen on half 0
(``dev``) and half 1 (``test``) says whether the choice holds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from facelens.config import Settings
from facelens.evaluation.embeddings import EmbeddingCache, embed_images
from facelens.evaluation.identification import (
    Normalisation,
    Ranked,
    figures,
    gallery_cohort,
    normalised_ranking,
)
from facelens.evaluation.lfw import LfwDataset


def load(root: Path, cache_path: Path, workers: int) -> dict[str, Any]:
    dataset = LfwDataset(root)
    split = dataset.identification_split()
    relative = split.gallery + split.mated_probes + split.nonmated_probes
    cache = EmbeddingCache(cache_path)
    try:
        embedded = embed_images(
            [dataset.path(r) for r in relative], Settings(), cache, workers=workers
        )
    finally:
        cache.close()

    def stack(names: list[str]) -> np.ndarray:
        return np.stack([embedded[dataset.path(n)].vector for n in names]).astype(np.float32)

    return {
        "gallery": stack(split.gallery),
        "mated": stack(split.mated_probes),
        "nonmated": stack(split.nonmated_probes),
        "gallery_people": [Path(g).parent.name for g in split.gallery],
        "mated_people": [Path(p).parent.name for p in split.mated_probes],
        "nonmated_people": [Path(p).parent.name for p in split.nonmated_probes],
    }


def shortlist(gallery: np.ndarray, probes: np.ndarray, length: int) -> Ranked:
    """Exact raw top-``length`` (the engine's flat index gives the same list)."""
    scores = probes @ gallery.T
    rows = np.argpartition(-scores, length, axis=1)[:, :length]
    part = np.take_along_axis(scores, rows, axis=1)
    order = np.argsort(-part, axis=1, kind="stable")
    return Ranked(
        scores=np.take_along_axis(part, order, axis=1).astype(np.float64),
        rows=np.take_along_axis(rows, order, axis=1).astype(np.int64),
    )


def half(people: list[str]) -> np.ndarray:
    return np.array([int(hashlib.sha256(p.encode()).hexdigest(), 16) % 2 for p in people])


def summary(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("curves", "mate_scores", "nonmated_top")}


def measure(
    data: dict[str, Any], norm: Normalisation | None, candidates: int, threshold: float | None
) -> dict[str, Any]:
    gallery = data["gallery"]
    length = norm.shortlist if norm else candidates
    mated = shortlist(gallery, data["mated"], length)
    nonmated = shortlist(gallery, data["nonmated"], length)
    if norm is not None:
        cohort = gallery_cohort(gallery, norm)
        stats = cohort.stats(gallery, np.arange(len(gallery)))
        mated = normalised_ranking(mated, data["mated"], stats, cohort, candidates, norm)
        nonmated = normalised_ranking(nonmated, data["nonmated"], stats, cohort, candidates, norm)
    else:
        mated = Ranked(mated.scores[:, :candidates], mated.rows[:, :candidates])
        nonmated = Ranked(nonmated.scores[:, :candidates], nonmated.rows[:, :candidates])
    out = summary(figures(mated, nonmated, data["gallery_people"], data["mated_people"], threshold))
    halves = []
    for h in (0, 1):
        m, n = half(data["mated_people"]) == h, half(data["nonmated_people"]) == h
        part = figures(
            Ranked(mated.scores[m], mated.rows[m]),
            Ranked(nonmated.scores[n], nonmated.rows[n]),
            data["gallery_people"],
            [p for p, keep in zip(data["mated_people"], m, strict=True) if keep],
            None,
        )
        halves.append(summary(part))
    out["halves"] = halves
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cohort-sizes", type=int, nargs="+", default=[1000, 2000, 5000])
    parser.add_argument("--top-k", type=int, nargs="+", default=[10, 20, 50, 100])
    parser.add_argument("--weights", type=float, nargs="+", default=[0.5, 0.75, 1.0])
    parser.add_argument(
        "--max-similarity", type=float, nargs="+", default=[1.0, 0.93],
        help="cohort scores at or above are left out (1.0: none)",
    )  # fmt: skip
    parser.add_argument("--shortlist", type=int, default=200)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    data = load(args.lfw, args.cache, args.workers)
    settings = Settings()
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    raw = measure(data, None, args.candidates, settings.match_threshold)
    rows.append({"scores": "raw", **raw})
    methods = [("as_norm", 0.0)] + [("cohort_mean", w) for w in args.weights]
    grid = [(s, k, m, c) for s in args.cohort_sizes for k in args.top_k
            for m in methods for c in args.max_similarity]  # fmt: skip
    for size, k, (method, weight), cap in grid:
        norm = Normalisation(method, size, k, weight, args.shortlist, cap)
        result = measure(data, norm, args.candidates, None)
        rows.append(
                    {"scores": method, "cohort_size": size, "top_k": k, "weight": weight,
                     "max_similarity": cap, **result}
                )  # fmt: skip
        print(
            f"{method} cohort {size} top-{k} weight {weight} cap {cap}: "
            f"rank-1 {result['rank_1']:.4f} "
            + " ".join(f"FNIR@{p['target_fpir']} {p['fnir']:.4f}" for p in result["fnir_at_fpir"]),
            flush=True,
        )
    print(
        f"raw: rank-1 {raw['rank_1']:.4f} "
        + " ".join(f"FNIR@{p['target_fpir']} {p['fnir']:.4f}" for p in raw["fnir_at_fpir"])
    )
    # Chosen on the dev half: the lowest sum of FNIR at the two target FPIRs.
    chosen = min(
        (r for r in rows if r["scores"] != "raw"),
        key=lambda r: sum(p["fnir"] for p in r["halves"][0]["fnir_at_fpir"]),
    )
    print(
        f"chosen on dev: {chosen['scores']} cohort {chosen['cohort_size']} top-"
        f"{chosen['top_k']} weight {chosen['weight']} cap {chosen['max_similarity']}: "
        f"all probes rank-1 {chosen['rank_1']:.4f} "
        + " ".join(f"FNIR@{p['target_fpir']} {p['fnir']:.4f}" for p in chosen["fnir_at_fpir"])
    )
    report = {
        "chosen_on_dev_half": {
            k: chosen[k] for k in ("scores", "cohort_size", "top_k", "weight", "max_similarity")
        },
        "split": {
            "gallery": len(data["gallery"]),
            "mated_probes": len(data["mated"]),
            "nonmated_probes": len(data["nonmated"]),
        },
        "shortlist": args.shortlist,
        "candidates": args.candidates,
        "elapsed_s": round(time.perf_counter() - started, 1),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
