"""Fit the constants of ``facelens.pipeline.detect.mtcnn.detector.dlib_like_box``: the box dlib's
HOG detector gives a face, from the five points MTCNN gives it.

    PYTHONPATH=. .venv/bin/python -m bench.mtcnn_box_fit --lfw ../shared/datasets/lfw \\
        --out bench/results/mtcnn-box-fit.json

LFW photos (250 x 250) are taken in a seeded order (seed 1 by default, apart from the
detection benchmark's seed 0). A photo is kept when HOG (one upsampling) and MTCNN each find
exactly one face and MTCNN's own box overlaps HOG's (IoU >= 0.3: the same face). The first
``--fit`` kept photos fit the constants by least squares, the next ``--check`` are held out to
measure them. With the eyes' midpoint ``E``, the mouth corners' midpoint ``M``, the
inter-ocular distance ``e``, ``m = |M - E|``, the unit vector ``u`` from ``E`` to ``M`` and
``v`` at right angles to it (to the image's right when the face is upright):

- side = a * e + b * m (dlib's boxes are square: the mean of HOG's width and height);
- centre = E + (c * m) * u + (d * n) * v, where ``n`` is the nose tip's offset along ``v``
  from the midpoint of ``E`` and ``M`` (a turned head moves dlib's box with its nose).

The JSON holds the constants and the IoU of the fitted box with HOG's on the held-out photos,
with MTCNN's own box's IoU beside it for comparison.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from bench.mosaics import iou, lfw_paths, load_rgb
from facelens.config import Settings
from facelens.pipeline.detect import create_detector
from facelens.pipeline.detect.mtcnn.detector import (
    BOX_CONSTANTS,
    BoxConstants,
    MtcnnDetector,
    dlib_like_box,
    face_frame,
)

Points = np.ndarray  # (5, 2): left eye, right eye, nose, left and right mouth corner


def fit(pairs: list[tuple[Points, tuple[float, ...]]]) -> BoxConstants:
    """Least-squares a, b (side) and c, d (centre) over (points, HOG box) pairs."""
    side_rows, sides, centre_rows, centres = [], [], [], []
    for points, box in pairs:
        f = face_frame(points)
        side_rows.append([f.eye_distance, f.mouth_distance])
        sides.append(((box[2] - box[0]) + (box[3] - box[1])) / 2)
        offset = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]) - f.eyes
        # offset = (c m) u + (d n) v: one row for its component along u, one along v.
        centre_rows += [[f.mouth_distance, 0.0], [0.0, f.nose_offset]]
        centres += [float(offset @ f.down), float(offset @ f.right)]
    (a, b), *_ = np.linalg.lstsq(np.array(side_rows), np.array(sides), rcond=None)
    (c, d), *_ = np.linalg.lstsq(np.array(centre_rows), np.array(centres), rcond=None)
    return BoxConstants(float(a), float(b), float(c), float(d))


def summary(values: list[float]) -> dict[str, float]:
    deciles = statistics.quantiles(values, n=10)
    return {"median": round(statistics.median(values), 4), "p10": round(deciles[0], 4),
            "mean": round(statistics.fmean(values), 4), "min": round(min(values), 4)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fit", type=int, default=600)
    parser.add_argument("--check", type=int, default=300)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    hog = create_detector(Settings(detector="hog", detect_upsample_times=1))
    mtcnn = MtcnnDetector(Settings().detect_max_side_px, 20)
    paths = lfw_paths(args.lfw)
    order = np.random.default_rng(args.seed).permutation(len(paths))
    pairs: list[tuple[Points, tuple[float, ...]]] = []
    own: list[tuple[float, ...]] = []
    looked = 0
    for index in order:
        if len(pairs) == args.fit + args.check:
            break
        looked += 1
        image = load_rgb(paths[index])
        by_hog, by_mtcnn = hog.detect(image), mtcnn.faces(image)
        if len(by_hog) != 1 or len(by_mtcnn) != 1:
            continue
        box = tuple(map(float, by_hog[0].box.as_tuple()))
        if iou(by_mtcnn[0].box, box) < 0.3:  # type: ignore[arg-type]
            continue
        pairs.append((by_mtcnn[0].points.astype(np.float64), box))
        own.append(by_mtcnn[0].box)
    constants = fit(pairs[: args.fit])
    held = range(args.fit, len(pairs))

    def iou_with_hog(k: BoxConstants) -> list[float]:
        return [iou(dlib_like_box(pairs[i][0], k), pairs[i][1]) for i in held]  # type: ignore[arg-type]

    sides = [dlib_like_box(pairs[i][0], constants) for i in held]
    ratio = [
        (b[2] - b[0]) / (pairs[i][1][2] - pairs[i][1][0]) for b, i in zip(sides, held, strict=True)
    ]
    result: dict[str, Any] = {
        "command": " ".join(["python -m bench.mtcnn_box_fit", *sys.argv[1:]]),
        "photos_examined": looked,
        "photos_kept": len(pairs),
        "fitted_on": args.fit,
        "held_out": len(held),
        "constants": {k: round(v, 4) for k, v in asdict(constants).items()},
        "held_out_iou_with_hog": {
            "fitted_box": summary(iou_with_hog(constants)),
            "box_of_the_detector's_constants": summary(iou_with_hog(BOX_CONSTANTS)),
            "mtcnn_own_box": summary([iou(own[i], pairs[i][1]) for i in held]),  # type: ignore[arg-type]
        },
        "held_out_side_over_hog_side": summary(ratio),
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
