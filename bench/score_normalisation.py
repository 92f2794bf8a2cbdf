"""AS-norm against raw similarity on LFW's open-set 1:N split, over cohort sizes and top-k.

    PYTHONPATH=. .venv/bin/python -m bench.score_normalisation --lfw ../shared/datasets/lfw \\
        --cache /tmp/eval-mtcnn.sqlite --out bench/results/score-normalisation.json

The split is ``facelens eval lfw``'s (``LfwDataset.identification_split``): 5,749 people, the
gallery holds image 0001 of each person not held out, plus every single-image person. The
embeddings come from the eval's cache (embedded with the default settings when missing). Both
rows of every comparison are measured in this one process on the same embeddings: raw
similarity (today's rule) and AS-norm with each cohort size and top-k asked for; the shortlist
re-ranked is the same for all. To see that a setting is not tuned to the split, the probes are
also split in two halves by a hash of the person's name and the figures given for each half.
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
        mated = normalised_ranking(mated, data["mated"], stats, cohort, candidates)
        nonmated = normalised_ranking(nonmated, data["nonmated"], stats, cohort, candidates)
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
    parser.add_argument("--cohort-sizes", type=int, nargs="+", default=[500, 1000, 2000, 5000])
    parser.add_argument("--top-k", type=int, nargs="+", default=[10, 30, 100, 300])
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
    for size in args.cohort_sizes:
        for k in args.top_k:
            if k >= size:
                continue
            norm = Normalisation(cohort_size=size, top_k=k, shortlist=args.shortlist)
            result = measure(data, norm, args.candidates, None)
            rows.append({"scores": "as_norm", "cohort_size": size, "top_k": k, **result})
            print(
                f"as_norm cohort {size} top-{k}: rank-1 {result['rank_1']:.4f} "
                + " ".join(
                    f"FNIR@{p['target_fpir']} {p['fnir']:.4f}" for p in result["fnir_at_fpir"]
                ),
                flush=True,
            )
    print(
        f"raw: rank-1 {raw['rank_1']:.4f} "
        + " ".join(f"FNIR@{p['target_fpir']} {p['fnir']:.4f}" for p in raw["fnir_at_fpir"])
    )
    report = {
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
