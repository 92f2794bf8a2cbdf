"""Ingest throughput, local worker processes against Ray actors, on the same photos and cores.

    .venv/bin/python bench/ray_ingest.py --lfw ../shared/datasets/lfw --images 200 \\
        --cpus 2 --repeats 3 --out bench/results/ray-ingest.json

Each run ingests the same ``--images`` photos (LFW's first in sorted path order, or those of
``--folder``) into a new, empty data folder through ``Engine.ingest``: once locally with
``--cpus`` worker processes, once on Ray with ``--cpus`` detection actors and the embedding
actor (``facelens.distributed.ray_ingest``), in turns, ``--repeats`` times; the medians are
reported. The Ray cluster is one local node of ``--cpus`` CPUs started once in this process
(``ray.init``, dashboard off, a small object store): its start-up is left out, but every run's
actor start-up (each actor loads its own models) is in, since every ingest pays it. The time
is end to end, as ``IngestReport.elapsed_s`` gives it (hashing, analysis, store, index).

On one machine Ray cannot be faster than the worker processes: it does the same work with
more moving parts (an object store, actors, a scheduler). What this measures is its price
where it buys nothing; its use is more machines than one.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import tempfile
from pathlib import Path
from typing import Any

import ray

import facelens
from bench.ingest import photos, rates
from facelens.distributed.options import RayOptions
from facelens.privacy.policy import CollectionPolicy, LegalBasis

POLICY = CollectionPolicy(
    LegalBasis.OTHER, ["US"], "ingest benchmark", 1, "research benchmark on LFW, a public dataset"
)


def run_once(paths: list[Path], cpus: int, options: RayOptions | None) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory(prefix="facelens-ray-bench-") as folder,
        facelens.open(folder) as engine,
    ):
        engine.create_collection("bench", POLICY)
        report = engine.ingest(paths, "bench", workers=cpus, ray=options)
    return rates(report)


def summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    return {
        "runs": runs,
        "median_seconds": statistics.median(r["seconds"] for r in runs),
        "median_faces_per_s": statistics.median(r["faces_per_s"] for r in runs),
        "median_images_per_s": statistics.median(r["images_per_s"] for r in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--lfw", type=Path, help="the LFW folder")
    source.add_argument("--folder", type=Path, help="a folder of photos instead of LFW")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--cpus", type=int, default=2, help="worker processes; Ray actors")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--object-store-mb", type=int, default=200)
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    args = parser.parse_args()
    paths = photos(args)
    if not paths:
        raise SystemExit("no photos found")

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # The throwaway folders' keys with them, never in ~/.config.
    keys = tempfile.TemporaryDirectory(prefix="facelens-ray-bench-keys-")
    os.environ["FACELENS_KEY_DIR"] = keys.name
    ray.init(
        num_cpus=args.cpus,
        include_dashboard=False,
        object_store_memory=args.object_store_mb * 2**20,
        logging_level=logging.ERROR,
        log_to_driver=False,
    )
    options = RayOptions(address="", actors=args.cpus)  # this process's cluster
    local: list[dict[str, float]] = []
    on_ray: list[dict[str, float]] = []
    try:
        for repeat in range(args.repeats):
            local.append(run_once(paths, args.cpus, None))
            on_ray.append(run_once(paths, args.cpus, options))
            print(f"repeat {repeat + 1}: local {local[-1]}, ray {on_ray[-1]}", flush=True)
    finally:
        ray.shutdown()
        keys.cleanup()
    results = {
        "images": len(paths),
        "source": str(args.folder or args.lfw),
        "cpus": args.cpus,
        "repeats": args.repeats,
        "local": summary(local),
        "ray": summary(on_ray),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "ray": ray.__version__,
        },
    }
    results["ray_over_local_faces_per_s"] = round(
        results["ray"]["median_faces_per_s"] / results["local"]["median_faces_per_s"], 3
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k not in ("local", "ray")}))


if __name__ == "__main__":
    main()
