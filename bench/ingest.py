"""Ingest throughput on LFW with 1 and 2 (or more) worker processes, and the scaling factor.

    .venv/bin/python bench/ingest.py --lfw ../shared/datasets/lfw --images 600 \\
        --out bench/results/ingest.json

Each run ingests the same ``--images`` LFW photos (the first in sorted path order) into a new,
empty data folder through ``Engine.ingest``, the code ``facelens ingest`` runs, with default
settings: decode, detect, align, quality, embed (with its mirror image), store, index. The time
is end to end, worker start-up included. Runs are repeated ``--repeats`` times and the median
is reported; the scaling factor is against the first ``--workers`` value, in this process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import facelens
from facelens.config import Settings
from facelens.privacy.policy import CollectionPolicy, LegalBasis

LFW_POLICY = CollectionPolicy(
    LegalBasis.OTHER, ["US"], "ingest benchmark", 1, "research benchmark on LFW, a public dataset"
)


def run_once(paths: list[Path], workers: int) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory(prefix="facelens-ingest-") as folder,
        facelens.open(folder, Settings()) as engine,
    ):
        engine.create_collection("lfw", LFW_POLICY)
        report = engine.ingest(paths, "lfw", workers=workers)
    if report.failures:
        raise SystemExit(f"{len(report.failures)} images failed: {report.failures[:3]}")
    return {
        "seconds": round(report.elapsed_s, 2),
        "images_per_s": round(report.images_per_s, 2),
        "faces_per_s": round(report.faces_indexed / report.elapsed_s, 2),
        "faces_indexed": report.faces_indexed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=Path, required=True, help="the LFW folder")
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    args = parser.parse_args()

    paths = sorted((args.lfw / "images").glob("*/*.jpg"))[: args.images]
    if len(paths) < args.images:
        parser.error(f"found only {len(paths)} images under {args.lfw / 'images'}")
    runs: dict[int, list[dict[str, float]]] = {}
    for _ in range(args.repeats):
        for workers in args.workers:
            runs.setdefault(workers, []).append(run_once(paths, workers))
            print(f"{workers} workers: {runs[workers][-1]}", flush=True)

    def median(workers: int, key: str) -> float:
        return statistics.median(run[key] for run in runs[workers])

    base = args.workers[0]
    table: list[dict[str, Any]] = [
        {
            "workers": workers,
            "images_per_s": median(workers, "images_per_s"),
            "faces_per_s": median(workers, "faces_per_s"),
            "speedup": round(median(workers, "images_per_s") / median(base, "images_per_s"), 2),
        }
        for workers in args.workers
    ]
    result = {
        "command": " ".join(["python", *sys.argv]),
        "images": args.images,
        "repeats": args.repeats,
        "settings": "defaults (HOG upsample 1, flip-averaged embeddings)",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": {str(w): r for w, r in runs.items()},
        "table": table,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"\n{args.images} LFW images, median of {args.repeats}:")
    print(f"{'workers':>7} {'images/s':>9} {'faces/s':>8} {'speed-up':>9}")
    for row in table:
        print(
            f"{row['workers']:>7} {row['images_per_s']:>9} {row['faces_per_s']:>8} "
            f"{row['speedup']:>9}"
        )


if __name__ == "__main__":
    main()
