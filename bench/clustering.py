"""Clustering LFW faces into people: facelens's clustering against dlib's Chinese whispers and
scikit-learn's DBSCAN on the same embeddings, scored by BCubed precision, recall and F.

    PYTHONPATH=. .venv/bin/python -m bench.clustering --lfw ../shared/datasets/lfw \\
        --out bench/results/clustering.json

**Faces.** Every LFW image (or the images of a seeded ``--max-people`` subset of the people),
embedded through facelens's pipeline and cache with the quality gates open (the cache the face
size bench fills), then kept only when the embedded face is one the default gates would have
indexed: facelens clusters only indexed faces. People with one photo are in the set; they
should come out alone.

**Split.** Settings are chosen on LFW's development people (``peopleDevTrain.txt``, View 1)
and reported on the others (``peopleDevTest.txt``'s people, never used to choose anything):
each part is clustered on its own, by every method.

**Baselines.** ``dlib.chinese_whispers_clustering`` links two faces under 0.5 Euclidean
distance between dlib's raw descriptors; facelens's vectors are unit-normalised, so that is
``0.5 / r`` between unit vectors, ``r`` the median norm of dlib's raw descriptor measured on
``--norm-sample`` LFW faces (cosine ``1 - (0.5 / r)**2 / 2``); it is also run at 0.5 on the
unit vectors. DBSCAN (``min_samples=1``: connected components under ``eps``) runs at the
engine's match threshold and at the ``eps`` with the best F on the development people.
Timings are the median of ``--repeats`` runs on the held-out part.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from facelens.clustering.linkage import group_faces
from facelens.config import Settings
from facelens.errors import FacelensError, InvalidArgumentError
from facelens.evaluation.clustering import bcubed, labels_of
from facelens.evaluation.embeddings import FACE, BenchmarkEmbedding, EmbeddingCache, embed_images
from facelens.evaluation.face_size import gates_off
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.decode import decode_image
from facelens.types import FloatArray

DEFAULT_CACHE = Path.home() / ".cache" / "facelens" / "eval-embeddings.sqlite"
DLIB_THRESHOLD = 0.5  # dlib's usual Chinese whispers threshold (Euclidean, raw descriptors)
TARGET_PRECISION = 0.98
EPS_GRID = [round(0.25 + 0.01 * i, 2) for i in range(16)]
Clusterer = Callable[[FloatArray], list[int]]


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Clustering LFW faces into people (BCubed).")
    parser.add_argument("--lfw", type=Path, required=True, help="the LFW folder")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="embedding cache")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--max-people", type=int, help="a seeded subset of people (default all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --max-people subset")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per method")
    parser.add_argument("--norm-sample", type=int, default=100, help="faces to measure r on")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    return parser.parse_args(argv)


def lfw_images(root: Path, max_people: int | None, seed: int) -> list[tuple[Path, str]]:
    people = sorted(p for p in (root / "images").iterdir() if p.is_dir())
    if max_people is not None and max_people < len(people):
        people = sorted(random.Random(seed).sample(people, max_people))
    return [(image, person.name) for person in people for image in sorted(person.glob("*.jpg"))]


def indexed_by_defaults(embedding: BenchmarkEmbedding, settings: Settings) -> bool:
    """Whether the default quality gates would have indexed the embedded face."""
    return (
        embedding.outcome == FACE
        and (embedding.size_px or 0) >= settings.min_face_size_px
        and (embedding.sharpness or 0) >= settings.min_sharpness
        and (embedding.score or 0) >= settings.min_detector_score
    )


def raw_norm(paths: Sequence[Path], settings: Settings) -> float:
    """The median norm of dlib's raw descriptor (no flip, no normalising) of these faces."""
    pipeline = FacePipeline(settings)
    norms = []
    for path in paths:
        image = decode_image(
            path.read_bytes(),
            max_image_bytes=settings.max_image_bytes,
            max_image_pixels=settings.max_image_pixels,
            max_decode_bytes=settings.max_decode_bytes,
            name=str(path),
        )
        chips = pipeline.prepare(image).chips
        if chips:  # the raw network output, before the embedder normalises it
            raw = pipeline.embedder._network(chips[:1])
            norms.append(float(np.linalg.norm(raw[0])))
    return statistics.median(norms) if norms else 1.0


def facelens_clusterer(settings: Settings) -> Clusterer:
    def run(vectors: FloatArray) -> list[int]:
        grouping = group_faces(
            vectors,
            threshold=settings.cluster_threshold,
            floor=settings.cluster_floor_threshold,
        )
        return labels_of(grouping.formed, len(vectors))

    return run


def incremental_clusterer(settings: Settings) -> Clusterer:
    """facelens's clustering run twice, as the engine runs it: a seeded half of the faces,
    then the other half with the first run's single faces, joining (never changing) the
    first run's groups."""

    def run(vectors: FloatArray) -> list[int]:
        order = np.random.default_rng(0).permutation(len(vectors))
        first = order[: len(order) // 2]
        kwargs: dict[str, Any] = {
            "threshold": settings.cluster_threshold,
            "floor": settings.cluster_floor_threshold,
        }
        before = group_faces(vectors[first], **kwargs)
        groups = [[int(first[r]) for r in g] for g in before.formed]
        second = np.concatenate([first[before.single], order[len(order) // 2 :]])
        after = group_faces(vectors[second], [vectors[g] for g in groups], **kwargs)
        for j, rows in after.joined.items():
            groups[j] += [int(second[r]) for r in rows]
        groups += [[int(second[r]) for r in g] for g in after.formed]
        return labels_of(groups, len(vectors))

    return run


def whispers_clusterer(threshold: float) -> Clusterer:
    import dlib

    def run(vectors: FloatArray) -> list[int]:
        descriptors = [dlib.vector(v.astype(float).tolist()) for v in vectors]
        return list(dlib.chinese_whispers_clustering(descriptors, threshold))

    return run


def hdbscan_clusterer(min_cluster_size: int) -> Clusterer:
    from sklearn.cluster import HDBSCAN

    def run(vectors: FloatArray) -> list[int]:
        found = HDBSCAN(min_cluster_size=min_cluster_size, copy=True).fit(vectors).labels_
        # Noise (-1) is a face left alone: a cluster of its own.
        return [int(x) if x >= 0 else -1 - i for i, x in enumerate(found)]

    return run


def dbscan_clusterer(eps: float) -> Clusterer:
    from sklearn.cluster import DBSCAN

    def run(vectors: FloatArray) -> list[int]:
        found = DBSCAN(eps=eps, min_samples=1).fit(vectors).labels_
        return [int(label) for label in found]

    return run


def score(
    clusterer: Clusterer, vectors: FloatArray, truth: list[str], repeats: int
) -> dict[str, Any]:
    times = []
    labels: list[int] = []
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        labels = clusterer(vectors)
        times.append(time.perf_counter() - started)
    scores = bcubed(labels, truth)
    return {
        "precision": round(scores.precision, 4),
        "recall": round(scores.recall, 4),
        "f": round(scores.f, 4),
        "clusters_of_2_or_more": sum(1 for n in np.unique(labels, return_counts=True)[1] if n > 1),
        "time_s_median": round(statistics.median(times), 3),
    }


def cosine_of(distance: float) -> float:
    """The cosine similarity of unit vectors this Euclidean distance apart."""
    return 1 - distance**2 / 2


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    defaults = Settings()
    settings = gates_off(defaults)  # what the cache holds; the default gates applied below
    images = lfw_images(args.lfw, args.max_people, args.seed)
    cache = EmbeddingCache(args.cache)
    try:
        embedded = embed_images([p for p, _ in images], settings, cache, workers=args.workers)
    finally:
        cache.close()
    kept = [(p, n) for p, n in images if indexed_by_defaults(embedded[p], defaults)]
    dev_people = {
        line.split("\t")[0]
        for line in (args.lfw / "peopleDevTrain.txt").read_text().splitlines()[1:]
    }
    sample = random.Random(args.seed).sample(kept, min(args.norm_sample, len(kept)))
    r = raw_norm([p for p, _ in sample], defaults)
    parts: dict[str, tuple[FloatArray, list[str]]] = {}
    for part, wanted in (("development", True), ("held_out", False)):
        chosen = [(p, n) for p, n in kept if (n in dev_people) == wanted]
        if not chosen:
            raise InvalidArgumentError(
                f"no indexed face of the {part.replace('_', '-')} people: take more --max-people"
            )
        vectors = np.stack([embedded[p].vector for p, _ in chosen]).astype(np.float32)
        parts[part] = (vectors, [n for _, n in chosen])
    dev_vectors, dev_truth = parts["development"]
    best_eps = max(EPS_GRID, key=lambda e: bcubed(dbscan_clusterer(e)(dev_vectors), dev_truth).f)
    dev_scores = {e: bcubed(dbscan_clusterer(e)(dev_vectors), dev_truth) for e in EPS_GRID}
    best_eps = max(EPS_GRID, key=lambda e: dev_scores[e].f)
    precise = [e for e in EPS_GRID if dev_scores[e].precision >= TARGET_PRECISION]
    precise_eps = max(precise) if precise else min(EPS_GRID)
    match_eps = float(np.sqrt(2 - 2 * defaults.match_threshold))
    methods: dict[str, tuple[Clusterer, dict[str, Any]]] = {
        "facelens": (
            facelens_clusterer(defaults),
            {
                "cluster_threshold": defaults.cluster_threshold,
                "cluster_floor_threshold": defaults.cluster_floor_threshold,
            },
        ),
        "facelens incremental (half, then the rest)": (incremental_clusterer(defaults), {}),
        "dlib chinese_whispers, 0.5 raw": (
            whispers_clusterer(DLIB_THRESHOLD / r),
            {
                "unit_distance": round(DLIB_THRESHOLD / r, 4),
                "cosine": round(cosine_of(DLIB_THRESHOLD / r), 4),
            },
        ),
        "dlib chinese_whispers, 0.5 unit": (
            whispers_clusterer(DLIB_THRESHOLD),
            {"unit_distance": DLIB_THRESHOLD, "cosine": cosine_of(DLIB_THRESHOLD)},
        ),
        "sklearn DBSCAN, match threshold": (
            dbscan_clusterer(match_eps),
            {"eps": round(match_eps, 4), "cosine": defaults.match_threshold, "min_samples": 1},
        ),
        "sklearn DBSCAN, best eps on development": (
            dbscan_clusterer(best_eps),
            {"eps": best_eps, "cosine": round(cosine_of(best_eps), 4), "min_samples": 1},
        ),
        "sklearn DBSCAN, largest eps with precision 0.98 on development": (
            dbscan_clusterer(precise_eps),
            {"eps": precise_eps, "cosine": round(cosine_of(precise_eps), 4), "min_samples": 1},
        ),
        "sklearn HDBSCAN, min_cluster_size 2": (hdbscan_clusterer(2), {"min_cluster_size": 2}),
    }
    rows = []
    for name, (clusterer, params) in methods.items():
        row: dict[str, Any] = {"method": name, "params": params}
        for part, (vectors, truth) in parts.items():
            repeats = args.repeats if part == "held_out" else 1
            row[part] = score(clusterer, vectors, truth, repeats)
        rows.append(row)
        print(f"{name}: {row['held_out']}", file=sys.stderr, flush=True)
    held = {row["method"]: row["held_out"] for row in rows}
    best_baseline = max(
        (m for m in held if not m.startswith("facelens")), key=lambda m: held[m]["f"]
    )
    ours = held["facelens"]
    return {
        "dataset": str(args.lfw),
        "images": len(images),
        "faces_indexed_by_default_gates": len(kept),
        "people": len({n for _, n in kept}),
        "parts": {
            part: {"faces": len(t), "people": len(set(t)), "singletons": _singletons(t)}
            for part, (_, t) in parts.items()
        },
        "dlib_raw_descriptor_norm_median": round(r, 4),
        "norm_sample": len(sample),
        "machine": {"cpus": os.cpu_count(), "repeats": args.repeats},
        "rows": rows,
        "target": {
            "precision_at_least_0.98": ours["precision"] >= TARGET_PRECISION,
            "best_baseline": best_baseline,
            "f_points_over_best_baseline": round(100 * (ours["f"] - held[best_baseline]["f"]), 2),
            "f_3_points_over_best_baseline": ours["f"] - held[best_baseline]["f"] >= 0.03,
        },
    }


def _singletons(truth: list[str]) -> int:
    counts: dict[str, int] = {}
    for name in truth:
        counts[name] = counts.get(name, 0) + 1
    return sum(1 for n in counts.values() if n == 1)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    try:
        result = evaluate(args)
    except FacelensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'method':42} {'part':12} {'P':>7} {'R':>7} {'F':>7} {'time s':>8}")
    for row in result["rows"]:
        for part in ("development", "held_out"):
            s = row[part]
            print(
                f"{row['method']:42} {part:12} {s['precision']:7.4f} {s['recall']:7.4f}"
                f" {s['f']:7.4f} {s['time_s_median']:8.3f}"
            )
    print(json.dumps(result["target"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
