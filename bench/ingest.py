"""Ingest throughput on LFW with 1 and 2 (or more) worker processes, the scaling factor, and
where the time goes, stage by stage.

    .venv/bin/python bench/ingest.py --lfw ../shared/datasets/lfw --images 600 \\
        --out bench/results/ingest.json

Each run ingests the same ``--images`` LFW photos (the first in sorted path order) into a new,
empty data folder through ``Engine.ingest``, the code ``facelens ingest`` runs, with default
settings: decode, detect, align, quality, embed (with its mirror image), store, index. The time
is end to end, worker start-up included. Runs are repeated ``--repeats`` times and the median
is reported; the scaling factor is against the first ``--workers`` value, in this process.

The stage timings (``--stages``, on by default) run the same pipeline objects on the same
photos in this one process, stage by stage, with the clock around each call: decode, detect,
align (with the quality checks), and embed in batches of ``embed_batch_size`` chips from many
photos (what ingest does), and once more a photo at a time (what it did before) for the ratio.
What the single-worker ingest spends beyond the sum of those stages is reported as "store,
index and the rest" (hashing, handing bytes to the worker, the store's transaction, the
index), so the stages add up to the measured end-to-end time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import facelens
from facelens.config import Settings
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.decode import RgbImage
from facelens.pipeline.quality import assess
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


def measure_stages(paths: list[Path], settings: Settings) -> dict[str, Any]:
    """Seconds spent in each stage over ``paths``, in this process (models loaded first)."""
    pipeline = FacePipeline(settings)
    pipeline.analyse_file(paths[0])  # loads the models: not part of any stage
    seconds = dict.fromkeys(("decode", "detect", "align", "embed"), 0.0)
    chips: list[RgbImage] = []
    faces = 0
    for path in paths:
        started = time.perf_counter()
        image = pipeline.load(path)
        detected = time.perf_counter()
        seconds["decode"] += detected - started
        detections = pipeline.detector.detect(image)
        aligned_at = time.perf_counter()
        seconds["detect"] += aligned_at - detected
        accepted = []
        for detection in detections:
            aligned = pipeline.aligner.align(image, detection.box, detection.landmarks)
            quality = assess(
                detection,
                aligned.chip,
                min_face_size_px=settings.min_face_size_px,
                min_sharpness=settings.min_sharpness,
                min_detector_score=settings.min_detector_score,
            )
            if quality.accepted:
                accepted.append(aligned.chip)
        accepted = accepted[: settings.max_faces_per_image]
        embed_at = time.perf_counter()
        seconds["align"] += embed_at - aligned_at
        pipeline.embedder.embed(accepted)
        seconds["embed"] += time.perf_counter() - embed_at
        chips.extend(accepted)
        faces += len(accepted)
    batch = settings.embed_batch_size
    started = time.perf_counter()
    for first in range(0, len(chips), batch):
        pipeline.embedder.embed(chips[first : first + batch])
    batched = time.perf_counter() - started
    one_at_a_time = seconds["embed"]
    seconds["embed"] = batched  # the stage as ingest runs it
    return {
        "images": len(paths),
        "faces": faces,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "embed_batched_seconds": round(batched, 3),
        "embed_photo_at_a_time_seconds": round(one_at_a_time, 3),
        "embed_batch_size": batch,
    }


def stage_table(stages: dict[str, Any], single_worker_s: float) -> list[dict[str, Any]]:
    """Each stage's milliseconds a photo and share of the single-worker ingest time."""
    images = stages["images"]
    rows = dict(stages["seconds"])
    rows["store, index and the rest"] = max(0.0, single_worker_s - sum(rows.values()))
    return [
        {
            "stage": name,
            "ms_per_image": round(1000 * value / images, 2),
            "share": round(value / single_worker_s, 3),
        }
        for name, value in rows.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=Path, required=True, help="the LFW folder")
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument(
        "--stages",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time each stage (needs 1 among --workers)",
    )
    args = parser.parse_args()
    if args.stages and 1 not in args.workers:
        parser.error("--stages compares with the single-worker run: include 1 in --workers")

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
    stages: dict[str, Any] | None = None
    if args.stages:
        stages = measure_stages(paths, Settings())
        stages["table"] = stage_table(stages, median(1, "seconds"))
        per_face_ms = 1000 / max(stages["faces"], 1)
        stages["embed_ms_per_face"] = round(
            stages["embed_photo_at_a_time_seconds"] * per_face_ms, 2
        )
        stages["embed_batched_ms_per_face"] = round(
            stages["embed_batched_seconds"] * per_face_ms, 2
        )
    result = {
        "command": " ".join(["python", *sys.argv]),
        "images": args.images,
        "repeats": args.repeats,
        "settings": "defaults (HOG upsample 1, flip-averaged embeddings)",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": {str(w): r for w, r in runs.items()},
        "table": table,
        "stages": stages,
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
    if stages is not None:
        print(f"\nwhere a single worker's time goes ({stages['faces']} faces):")
        print(f"{'stage':<27} {'ms/image':>9} {'share':>6}")
        for row in stages["table"]:
            print(f"{row['stage']:<27} {row['ms_per_image']:>9} {row['share']:>6.1%}")
        print(
            f"embedding, a photo at a time: {stages['embed_ms_per_face']} ms a face; "
            f"in batches of {stages['embed_batch_size']}: {stages['embed_batched_ms_per_face']} ms"
        )


if __name__ == "__main__":
    main()
