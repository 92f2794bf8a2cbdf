"""Derive the default decision threshold on LFW View 1 with facelens's own pipeline.

    python bench/derive_threshold.py --lfw ../shared/datasets/lfw --out bench/results/threshold.json

Embeds every image of pairsDevTrain.txt (and pairsDevTest.txt, to report how the threshold
holds on unseen pairs), takes the face nearest the image centre (LFW images are centred on the
labelled person), and picks the lowest cosine-similarity threshold whose false match rate over
the different-person pairs of pairsDevTrain is at most the target (default 1e-3). Images where
no face is found fall back to the central 110x110 region, so every pair is counted.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from facelens.config import Settings
from facelens.embed import l2_normalise
from facelens.pipeline import FacePipeline
from facelens.types import Box

_pipeline: FacePipeline | None = None


def _init() -> None:
    global _pipeline
    _pipeline = FacePipeline(Settings())


def _embed(path: str) -> tuple[str, list[float], bool]:
    assert _pipeline is not None
    image = _pipeline.load(Path(path))
    h, w = image.shape[:2]
    analysis = _pipeline.analyse(image)
    faces = analysis.accepted_faces
    if faces:
        cx, cy = w / 2, h / 2
        face = min(faces, key=lambda f: (f.box.centre[0] - cx) ** 2 + (f.box.centre[1] - cy) ** 2)
        assert face.embedding is not None
        return path, face.embedding.vector.tolist(), True
    # Fallback: the central region, where LFW's labelled face is.
    side = 110
    box = Box(w // 2 - side // 2, h // 2 - side // 2, w // 2 + side // 2, h // 2 + side // 2)
    aligned = _pipeline.aligner.align(image, box)
    vec = _pipeline.embedder.embed([aligned.chip])[0].vector
    return path, vec.tolist(), False


def read_pairs(path: Path, root: Path) -> list[tuple[str, str, bool]]:
    pairs = []
    for line in path.read_text().splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) == 3:
            name, a, b = parts
            pairs.append((_img(root, name, a), _img(root, name, b), True))
        elif len(parts) == 4:
            n1, a, n2, b = parts
            pairs.append((_img(root, n1, a), _img(root, n2, b), False))
    return pairs


def _img(root: Path, name: str, n: str) -> str:
    return str(root / "images" / name / f"{name}_{int(n):04d}.jpg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--target-fmr", type=float, default=1e-3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    train = read_pairs(args.lfw / "pairsDevTrain.txt", args.lfw)
    test = read_pairs(args.lfw / "pairsDevTest.txt", args.lfw)
    paths = sorted({p for a, b, _ in train + test for p in (a, b)})
    started = time.perf_counter()
    vectors: dict[str, np.ndarray] = {}
    fallbacks = 0
    with ProcessPoolExecutor(args.workers, initializer=_init) as pool:
        for path, vec, found in pool.map(_embed, paths, chunksize=8):
            vectors[path] = np.asarray(vec, dtype=np.float32)
            fallbacks += not found
    elapsed = time.perf_counter() - started

    def scores(pairs: list[tuple[str, str, bool]]) -> tuple[np.ndarray, np.ndarray]:
        a = l2_normalise(np.stack([vectors[p] for p, _, _ in pairs]))
        b = l2_normalise(np.stack([vectors[q] for _, q, _ in pairs]))
        return (a * b).sum(axis=1), np.array([s for _, _, s in pairs])

    train_sim, train_same = scores(train)
    impostor = np.sort(train_sim[~train_same])[::-1]
    allowed = int(np.floor(args.target_fmr * len(impostor)))  # false matches we may accept
    # Lowest threshold with at most `allowed` impostor scores at or above it.
    # The next 4-decimal figure strictly above that impostor score, so that the rounded
    # threshold keeps the FMR at or under the target.
    threshold = round(math.floor(float(impostor[allowed]) * 1e4) / 1e4 + 1e-4, 4)

    def rates(sim: np.ndarray, same: np.ndarray, t: float) -> dict[str, float]:
        return {
            "fmr": float((sim[~same] >= t).mean()),
            "fnmr": float((sim[same] < t).mean()),
            "accuracy": float(((sim >= t) == same).mean()),
        }

    test_sim, test_same = scores(test)
    result = {
        "dataset": str(args.lfw),
        "protocol": "LFW View 1",
        "target_fmr": args.target_fmr,
        "threshold": threshold,
        "highest_impostor_similarities": [round(float(x), 5) for x in impostor[:5]],
        "train_pairs": len(train),
        "train_impostor_pairs": int((~train_same).sum()),
        "train": rates(train_sim, train_same, threshold),
        "test": rates(test_sim, test_same, threshold),
        "images": len(paths),
        "images_without_face_fallback_to_centre": fallbacks,
        "elapsed_s": round(elapsed, 1),
        "images_per_s": round(len(paths) / elapsed, 2),
        "settings": Settings().model_dump(mode="json"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "settings"}, indent=2))


if __name__ == "__main__":
    main()
