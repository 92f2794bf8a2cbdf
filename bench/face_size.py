"""Recognition accuracy against face size, on LFW pairs downscaled so that the face is about
20 to 64 px, through facelens's own pipeline and embedding cache.

    PYTHONPATH=. .venv/bin/python -m bench.face_size --lfw ../shared/datasets/lfw \\
        --out bench/results/face-size.json --plot bench/results/face-size.png

How the photos are downscaled, which gates are open and what each mode means:
``facelens/evaluation/face_size.py``. Per face size and mode the JSON gives the 10-fold
accuracy (mean and sample sd), TAR at FAR 1e-3, ROC AUC, EER, the share of downscaled photos
in which the detector found a face, the median (10th and 90th percentile, and a count by px)
short side of the box it reported (what ``min_face_size_px`` measures), the accuracy over the
pairs whose downscaled photos had a face found, and the share the gates of the settings given
would have indexed. ``facelens eval lfw --face-size-json`` puts the curve in the eval report.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from facelens.config import Settings
from facelens.errors import FacelensError
from facelens.evaluation.face_size import (
    FULL,
    MODES,
    PROTOCOLS,
    SIZES_PX,
    FaceSizeOptions,
    face_size_curve,
    parse_size,
)
from facelens.evaluation.report import plot_face_size
from facelens.pipeline.detect import available_detectors

DEFAULT_CACHE = Path.home() / ".cache" / "facelens" / "eval-embeddings.sqlite"


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = Settings()
    parser = argparse.ArgumentParser(description="LFW accuracy against face size.")
    parser.add_argument("--lfw", type=Path, required=True, help="the LFW folder")
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=[str(s) for s in (*SIZES_PX, FULL)],
        help=f"face sizes in px, and {FULL} (default: %(default)s)",
    )
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--protocol", choices=PROTOCOLS, default="view2")
    parser.add_argument("--detector", choices=available_detectors(), default=defaults.detector)
    parser.add_argument("--upsample", type=int, default=defaults.detect_upsample_times)
    parser.add_argument(
        "--max-pairs", type=int, help="a seeded subset of about this many pairs (default: all)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the --max-pairs subset")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="embedding cache")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--plot", type=Path, help="PNG file to plot the curve in")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    last = [0.0]

    def progress(label: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if done == total or now - last[0] > 30:
            last[0] = now
            print(f"embed {label}: {done}/{total}", file=sys.stderr, flush=True)

    try:
        settings = Settings(detector=args.detector, detect_upsample_times=args.upsample)
        options = FaceSizeOptions(
            root=args.lfw,
            cache_path=args.cache,
            workers=args.workers,
            sizes=[parse_size(s) for s in args.sizes],
            modes=args.modes,
            protocol=args.protocol,
            max_pairs=args.max_pairs,
            seed=args.seed,
        )
        curve = face_size_curve(settings, options, progress)
    except FacelensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(curve, indent=2) + "\n")
    if args.plot is not None:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        plot_face_size(curve, args.plot)
    print(
        f"{'size':>5} {'mode':>5} {'accuracy':>16} {'TAR@1e-3':>9} {'found':>6} {'box':>6}"
        f" {'acc found':>9} {'indexed':>8}"
    )
    for r in curve["rows"]:
        box = "-" if r["box_px_median"] is None else f"{r['box_px_median']:.0f}"
        found = "-" if r["accuracy_detected"] is None else f"{r['accuracy_detected']:.2%}"
        print(
            f"{r['size']!s:>5} {r['mode']:>5} {r['accuracy']:8.2%} ± {r['accuracy_std']:5.2%}"
            f" {r['tar_at_far_1e-3']:9.2%} {r['detected_share']:6.1%} {box:>6} {found:>9}"
            f" {r['indexed_by_gates_share']:8.1%}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
