"""Build a benchmark gallery: real LFW face embeddings plus synthetic distractors drawn from a
model fitted to them, and check that the distractors look like real faces.

    .venv/bin/python bench/gallery.py --lfw ../shared/datasets/lfw --faces 10000000 \\
        --out /tmp/facelens-gallery

Real part. Every LFW image is embedded by facelens's own pipeline (the same cache as
``facelens eval lfw``: a fresh machine embeds all 13,233 images once, about 20 minutes on two
cores). Images where no face passed the quality checks are left out. Each person with two or
more images gives their first image as a *mated query* and the rest to the gallery; a seeded
sample of the people with a single image are *non-mated queries* (their face is nowhere in the
gallery); the other single-image people are gallery faces.

Synthetic part. One embedding per gallery person (so that people with hundreds of images, such
as George W Bush, do not pull a mixture component onto themselves) is projected on its
principal components; the components carrying 99% of the variance get a Gaussian mixture with
full covariances, the rest independent Gaussians with their own variance; samples are mapped
back and L2-normalised. Everything is seeded.

Realism check (written to ``gallery.json``): for every query, its nearest-neighbour similarity
among the real non-mated gallery faces and among as many synthetic ones, compared by quantiles
and the two-sample Kolmogorov-Smirnov statistic; likewise similarities of random pairs.

Files written to ``--out``: ``gallery.npy`` (faces x 128 float32; the real faces first, row =
face id), ``gallery_labels.npy`` (LFW person number, -1 for synthetic), ``queries.npy``,
``query_labels.npy`` and ``gallery.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from facelens.config import Settings
from facelens.evaluation.embeddings import FACE, EmbeddingCache, embed_images
from facelens.evaluation.lfw import LfwDataset

DEFAULT_CACHE = Path.home() / ".cache" / "facelens" / "eval-embeddings.sqlite"
_CHUNK = 1_000_000


def real_embeddings(
    root: Path, cache_path: Path, workers: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Embeddings of every LFW image whose face passed the checks, with person numbers."""
    dataset = LfwDataset(root)
    people = dataset.people()
    names = list(people)
    relative = [dataset.image(n, i) for n in names for i in range(1, people[n] + 1)]
    labels = [p for p, n in enumerate(names) for _ in range(people[n])]
    cache = EmbeddingCache(cache_path)
    try:
        embedded = embed_images(
            [dataset.path(r) for r in relative], Settings(), cache, workers=workers
        )
    finally:
        cache.close()
    keep = [i for i, r in enumerate(relative) if embedded[dataset.path(r)].outcome == FACE]
    vectors = np.stack([embedded[dataset.path(relative[i])].vector for i in keep])
    return vectors.astype(np.float32), np.array([labels[i] for i in keep]), names


def split(
    vectors: np.ndarray, labels: np.ndarray, nonmated_queries: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Mated queries (each person's first image), non-mated queries, and the real gallery."""
    first = np.unique(labels, return_index=True)[1]
    counts = np.bincount(labels)
    singles = first[counts[labels[first]] == 1]
    nonmated = np.sort(rng.choice(singles, size=min(nonmated_queries, len(singles)), replace=False))
    mated = first[counts[labels[first]] >= 2]
    query_rows = np.concatenate([mated, nonmated])
    gallery_rows = np.setdiff1d(np.arange(len(labels)), query_rows)
    return {"query_rows": query_rows, "gallery_rows": gallery_rows, "mated_rows": mated}


class DistractorModel:
    """A Gaussian mixture in the PCA basis of real embeddings; samples are unit vectors."""

    def __init__(self, components: int, seed: int) -> None:
        self.components = components
        self.seed = seed

    def fit(self, vectors: np.ndarray) -> DistractorModel:
        self.pca = PCA(random_state=self.seed).fit(vectors)
        explained = np.cumsum(self.pca.explained_variance_ratio_)
        self.kept = int(np.searchsorted(explained, 0.99) + 1)
        projected = self.pca.transform(vectors)
        self.mixture = GaussianMixture(
            self.components, covariance_type="full", reg_covar=1e-5, random_state=self.seed
        ).fit(projected[:, : self.kept])
        self.residual_std = np.sqrt(self.pca.explained_variance_[self.kept :])
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        weights = self.mixture.weights_
        component = rng.choice(len(weights), size=n, p=weights / weights.sum())
        kept = np.empty((n, self.kept))
        for c in range(len(weights)):
            rows = np.flatnonzero(component == c)
            kept[rows] = rng.multivariate_normal(
                self.mixture.means_[c], self.mixture.covariances_[c], size=len(rows)
            )
        residual = rng.standard_normal((n, len(self.residual_std))) * self.residual_std
        vectors = self.pca.inverse_transform(np.hstack([kept, residual])).astype(np.float32)
        unit: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return unit

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "Gaussian mixture in the PCA basis",
            "pca_components_kept": self.kept,
            "variance_kept": 0.99,
            "mixture_components": self.components,
            "covariance": "full",
            "seed": self.seed,
        }


def _quantiles(values: np.ndarray) -> dict[str, float]:
    return {f"p{q}": round(float(np.percentile(values, q)), 4) for q in (1, 10, 50, 90, 99)}


def realism(
    queries: np.ndarray,
    query_labels: np.ndarray,
    real: np.ndarray,
    real_labels: np.ndarray,
    synthetic: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Do synthetic distractors look like real non-mated faces to a search?"""
    nn_real = np.empty(len(queries))
    for i, (query, label) in enumerate(zip(queries, query_labels, strict=True)):
        others = real[real_labels != label]
        nn_real[i] = float((others @ query).max())
    nn_synthetic = (synthetic[: len(real)] @ queries.T).max(axis=0)

    def pair_similarities(vectors: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
        a, b = rng.integers(0, len(vectors), size=(2, 200_000))
        keep = a != b if labels is None else labels[a] != labels[b]
        similarities: np.ndarray = np.einsum("nd,nd->n", vectors[a[keep]], vectors[b[keep]])
        return similarities

    pairs_real = pair_similarities(real, real_labels)
    pairs_synthetic = pair_similarities(synthetic[: len(real)], None)
    return {
        "nearest_neighbour_similarity": {
            "what": "each query's top similarity among real non-mated gallery faces vs among "
            "as many synthetic distractors",
            "real": _quantiles(nn_real),
            "synthetic": _quantiles(nn_synthetic),
            "ks_statistic": round(float(stats.ks_2samp(nn_real, nn_synthetic).statistic), 4),
        },
        "random_pair_similarity": {
            "what": "similarity of random different-person pairs",
            "real": _quantiles(pairs_real),
            "synthetic": _quantiles(pairs_synthetic),
            "ks_statistic": round(float(stats.ks_2samp(pairs_real, pairs_synthetic).statistic), 4),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=Path, required=True, help="the LFW folder")
    parser.add_argument("--faces", type=int, required=True, help="gallery size, real included")
    parser.add_argument("--out", type=Path, required=True, help="folder to write")
    parser.add_argument("--nonmated-queries", type=int, default=1000)
    parser.add_argument("--mixture-components", type=int, default=16)
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="embedding cache")
    args = parser.parse_args()

    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    vectors, labels, _ = real_embeddings(args.lfw, args.cache, args.workers)
    parts = split(vectors, labels, args.nonmated_queries, rng)
    real, real_labels = vectors[parts["gallery_rows"]], labels[parts["gallery_rows"]]
    if args.faces < len(real):
        parser.error(f"--faces must be at least the {len(real)} real gallery faces")
    one_per_person = real[np.unique(real_labels, return_index=True)[1]]
    model = DistractorModel(args.mixture_components, args.seed).fit(one_per_person)

    args.out.mkdir(parents=True, exist_ok=True)
    gallery = np.lib.format.open_memmap(
        args.out / "gallery.npy", mode="w+", dtype=np.float32, shape=(args.faces, 128)
    )
    gallery[: len(real)] = real
    first_synthetic = None
    for start in range(len(real), args.faces, _CHUNK):
        count = min(_CHUNK, args.faces - start)
        gallery[start : start + count] = model.sample(count, rng)
        if first_synthetic is None:
            first_synthetic = np.array(gallery[start : start + count])
    gallery.flush()
    gallery_labels = np.full(args.faces, -1, dtype=np.int32)
    gallery_labels[: len(real)] = real_labels
    np.save(args.out / "gallery_labels.npy", gallery_labels)
    queries = vectors[parts["query_rows"]]
    query_labels = labels[parts["query_rows"]]
    np.save(args.out / "queries.npy", queries)
    np.save(args.out / "query_labels.npy", query_labels.astype(np.int32))

    synthetic = first_synthetic if first_synthetic is not None else model.sample(len(real), rng)
    described = {
        "faces": args.faces,
        "real_faces": len(real),
        "synthetic_faces": args.faces - len(real),
        "real_people": len(np.unique(real_labels)),
        "mated_queries": len(parts["mated_rows"]),
        "nonmated_queries": len(parts["query_rows"]) - len(parts["mated_rows"]),
        "lfw_images_with_a_face": len(vectors),
        "distractor_model": model.describe(),
        "realism": realism(queries, query_labels, real, real_labels, synthetic, rng),
        "seconds": round(time.perf_counter() - started, 1),
    }
    (args.out / "gallery.json").write_text(json.dumps(described, indent=2))
    print(json.dumps(described, indent=2))


if __name__ == "__main__":
    main()
