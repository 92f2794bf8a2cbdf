"""Ingest throughput on LFW with 1 and 2 (or more) worker processes, the scaling factor, and
where the time goes, stage by stage.

    .venv/bin/python bench/ingest.py --lfw ../shared/datasets/lfw --images 600 \\
        --out bench/results/ingest.json

Each run ingests the same ``--images`` LFW photos (the first in sorted path order) into a new,
empty data folder through ``Engine.ingest``, the code ``facelens ingest`` runs, with default
settings: decode, detect, align, quality, embed (with its mirror image), store, index. The time
is end to end, worker start-up included. Runs are repeated ``--repeats`` times and the median
is reported; the scaling factor is against the first ``--workers`` value, in this process.

``--variant LABEL:SETTING=VALUE,...`` (repeatable) runs the same photos under other settings
too, in turns within each repeat, and reports each variant's ratio to the first at the same
worker count: ``--variant hog:detector=hog --variant mtcnn:detector=mtcnn``. ``--folder`` takes
the photos from any folder instead of LFW (face-free images, to price ``ingest_try_turns``).

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
from facelens.ingest_report import IngestReport
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.decode import RgbImage
from facelens.pipeline.quality import assess
from facelens.privacy.policy import CollectionPolicy, LegalBasis

LFW_POLICY = CollectionPolicy(
    LegalBasis.OTHER, ["US"], "ingest benchmark", 1, "research benchmark on LFW, a public dataset"
)


def run_once(paths: list[Path], workers: int, settings: Settings) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory(prefix="facelens-ingest-") as folder,
        facelens.open(folder, settings) as engine,
    ):
        engine.create_collection("lfw", LFW_POLICY)
        report = engine.ingest(paths, "lfw", workers=workers)
    return rates(report)


def rates(report: IngestReport) -> dict[str, float]:
    """An ingest's rates, for a benchmark's JSON; a failed image fails the benchmark."""
    if report.failures:
        raise SystemExit(f"{len(report.failures)} images failed: {report.failures[:3]}")
    return {
        "seconds": round(report.elapsed_s, 2),
        "images_per_s": round(report.images_per_s, 2),
        "faces_per_s": round(report.faces_indexed / report.elapsed_s, 2),
        "faces_indexed": report.faces_indexed,
    }


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """``LABEL:SETTING=VALUE,...`` -> the label and the settings it changes."""
    label, _, assignments = text.partition(":")
    changes = dict(pair.split("=", 1) for pair in assignments.split(",") if pair)
    if not label:
        raise argparse.ArgumentTypeError(f"variant {text!r} has no label")
    Settings(**changes)  # type: ignore[arg-type]  # fails early on an unknown or bad value
    return label, changes


def photos(args: argparse.Namespace) -> list[Path]:
    if args.folder is not None:
        suffixes = {".jpg", ".jpeg", ".png"}
        found = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in suffixes)
    else:
        found = sorted((args.lfw / "images").glob("*/*.jpg"))
    return found[: args.images]


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
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--lfw", type=Path, help="the LFW folder")
    source.add_argument("--folder", type=Path, help="a folder of photos instead of LFW")
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
    parser.add_argument(
        "--variant",
        type=parse_variant,
        action="append",
        help="LABEL:SETTING=VALUE,... settings to compare (default: one run at the defaults)",
    )
    args = parser.parse_args()
    variants: list[tuple[str, dict[str, str]]] = args.variant or [("defaults", {})]
    if args.stages and 1 not in args.workers:
        parser.error("--stages compares with the single-worker run: include 1 in --workers")

    paths = photos(args)
    if len(paths) < args.images:
        parser.error(f"found only {len(paths)} images, not --images {args.images}")
    runs: dict[str, dict[int, list[dict[str, float]]]] = {label: {} for label, _ in variants}
    for _ in range(args.repeats):
        for label, changes in variants:
            for workers in args.workers:
                run = run_once(paths, workers, Settings(**changes))  # type: ignore[arg-type]
                runs[label].setdefault(workers, []).append(run)
                print(f"{label}, {workers} workers: {run}", flush=True)

    def median(label: str, workers: int, key: str) -> float:
        return statistics.median(run[key] for run in runs[label][workers])

    base, first = args.workers[0], variants[0][0]
    table: list[dict[str, Any]] = [
        {
            "variant": label,
            "workers": workers,
            "images_per_s": median(label, workers, "images_per_s"),
            "faces_per_s": median(label, workers, "faces_per_s"),
            "faces_indexed": median(label, workers, "faces_indexed"),
            "speedup": round(
                median(label, workers, "images_per_s") / median(label, base, "images_per_s"), 2
            ),
            "ratio_to_first_variant": round(
                median(label, workers, "images_per_s") / median(first, workers, "images_per_s"),
                3,
            ),
        }
        for label, _ in variants
        for workers in args.workers
    ]
    stages: dict[str, Any] = {}
    if args.stages:
        for label, changes in variants:
            measured = measure_stages(paths, Settings(**changes))  # type: ignore[arg-type]
            measured["table"] = stage_table(measured, median(label, 1, "seconds"))
            per_face_ms = 1000 / max(measured["faces"], 1)
            measured["embed_ms_per_face"] = round(
                measured["embed_photo_at_a_time_seconds"] * per_face_ms, 2
            )
            measured["embed_batched_ms_per_face"] = round(
                measured["embed_batched_seconds"] * per_face_ms, 2
            )
            stages[label] = measured
    result = {
        "command": " ".join(["python", *sys.argv]),
        "images": args.images,
        "repeats": args.repeats,
        "variants": dict(variants),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": {
            label: {str(w): r for w, r in by_workers.items()} for label, by_workers in runs.items()
        },
        "table": table,
        "stages": stages or None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"\n{args.images} images, median of {args.repeats}:")
    print(
        f"{'variant':<12} {'workers':>7} {'images/s':>9} {'faces/s':>8} {'faces':>6} "
        f"{'speed-up':>9} {'vs first':>9}"
    )
    for row in table:
        print(
            f"{row['variant']:<12} {row['workers']:>7} {row['images_per_s']:>9} "
            f"{row['faces_per_s']:>8} {row['faces_indexed']:>6} {row['speedup']:>9} "
            f"{row['ratio_to_first_variant']:>9}"
        )
    for label, measured in stages.items():
        print(f"\n{label}: where a single worker's time goes ({measured['faces']} faces):")
        print(f"{'stage':<27} {'ms/image':>9} {'share':>6}")
        for row in measured["table"]:
            print(f"{row['stage']:<27} {row['ms_per_image']:>9} {row['share']:>6.1%}")
        print(
            f"embedding, a photo at a time: {measured['embed_ms_per_face']} ms a face; in "
            f"batches of {measured['embed_batch_size']}: {measured['embed_batched_ms_per_face']} ms"
        )


if __name__ == "__main__":
    main()
