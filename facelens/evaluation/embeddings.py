"""Embeddings of benchmark images through facelens's own pipeline, cached on disk.

Each image gets one embedding: of the accepted face nearest the image centre (benchmark images
are centred on their labelled person; other people often appear too). When no face passes the
quality checks, the detection nearest the centre is embedded anyway; when nothing is detected,
the central square (44% of the short side, where LFW's labelled face is) is aligned and
embedded. Both count as failures to enrol, and every comparison is still scored: none is
silently dropped.

The cache is keyed by the image's sha256 and a signature of the model and every setting that
changes an embedding, so a rerun with other thresholds or protocols embeds nothing again. A
benchmark that changes each image before the pipeline sees it (``ImageTransform``: the face
size curve downscales them) puts the change's tag in the signature, so the changed image's
embedding never stands for the original's.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from facelens.config import Settings
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.decode import RgbImage, decode_image
from facelens.types import AnalysedFace, Box, FloatArray

FACE = "face"
REJECTED_FACE = "rejected_face"  # detected, failed the quality checks, embedded for scoring
FALLBACK = "fallback"  # nothing detected: the central region was embedded
FAILED_TO_ENROL = (REJECTED_FACE, FALLBACK)
CENTRAL_FALLBACK_SHARE = 0.44
#: Bump when the choice of face (and so a cached embedding) changes.
FACE_CHOICE_VERSION = 2

#: What the cache keeps of the embedded face besides its vector (BenchmarkEmbedding).
_FACE_COLUMNS = ("size_px", "sharpness", "score")
#: Settings that change what an image's embedding is.
_EMBEDDING_SETTINGS = (
    "detector", "detect_upsample_times", "detect_max_side_px", "min_detector_score",
    "min_face_size_px", "min_sharpness", "chip_padding", "embed_flip_average", "embed_jitters",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class BenchmarkEmbedding:
    vector: FloatArray
    outcome: str  # FACE, REJECTED_FACE or FALLBACK
    faces_found: int
    #: The embedded detection's box short side (what ``min_face_size_px`` measures), its chip's
    #: sharpness and its detector score; None for the central fallback, and in rows cached
    #: before these were kept.
    size_px: float | None = None
    sharpness: float | None = None
    score: float | None = None


class ImageTransform(Protocol):
    """A change made to each decoded image before the pipeline sees it (benchmarks only).
    Picklable: it travels to the worker processes."""

    @property
    def tag(self) -> str:
        """Names the change in the cache signature."""
        ...

    def __call__(self, image: RgbImage) -> RgbImage: ...


def pipeline_signature(
    settings: Settings, pipeline: FacePipeline, transform: ImageTransform | None = None
) -> str:
    """What the cache key needs besides the image: the model, the embedding settings and the
    transform made to the image first, if any."""
    described = {name: getattr(settings, name) for name in _EMBEDDING_SETTINGS}
    described["model"] = str(pipeline.model)
    described["face_choice"] = FACE_CHOICE_VERSION
    if transform is not None:  # absent otherwise, so signatures cached before stay valid
        described["prepare"] = transform.tag
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


class EmbeddingCache:
    """A small SQLite file of (sha256, signature) -> embedding. Derived data: delete at will."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path)
        self.hits = 0
        self.misses = 0
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (sha256 TEXT, signature TEXT, vector BLOB, "
            "outcome TEXT, faces_found INTEGER, PRIMARY KEY (sha256, signature))"
        )
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(embeddings)")}
        for column in _FACE_COLUMNS:  # a cache written before they were kept gains them
            if column not in columns:
                self._db.execute(f"ALTER TABLE embeddings ADD COLUMN {column} REAL")

    def get(self, sha256: str, signature: str) -> BenchmarkEmbedding | None:
        row = self._db.execute(
            "SELECT vector, outcome, faces_found, size_px, sharpness, score FROM embeddings "
            "WHERE sha256=? AND signature=?",
            (sha256, signature),
        ).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        vector = np.frombuffer(row[0], dtype="<f4").copy()
        return BenchmarkEmbedding(vector, row[1], row[2], row[3], row[4], row[5])

    def put(self, sha256: str, signature: str, embedding: BenchmarkEmbedding) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO embeddings (sha256, signature, vector, outcome, faces_found, "
            "size_px, sharpness, score) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sha256,
                signature,
                embedding.vector.astype("<f4").tobytes(),
                embedding.outcome,
                embedding.faces_found,
                embedding.size_px,
                embedding.sharpness,
                embedding.score,
            ),
        )

    def commit(self) -> None:
        self._db.commit()

    def close(self) -> None:
        self._db.commit()
        self._db.close()


def embed_central_face(
    pipeline: FacePipeline, data: bytes, name: str, transform: ImageTransform | None = None
) -> BenchmarkEmbedding:
    """The embedding of the accepted face nearest the centre, or of the central region (of
    the image as ``transform`` makes it, when given)."""
    settings = pipeline.settings
    image = decode_image(
        data,
        max_image_bytes=settings.max_image_bytes,
        max_image_pixels=settings.max_image_pixels,
        max_decode_bytes=settings.max_decode_bytes,
        name=name,
    )
    if transform is not None:
        image = transform(image)
    height, width = image.shape[:2]
    analysis = pipeline.analyse(image)
    cx, cy = width / 2.0, height / 2.0

    def distance(face: AnalysedFace) -> float:
        return float((face.box.centre[0] - cx) ** 2 + (face.box.centre[1] - cy) ** 2)

    accepted = analysis.accepted_faces
    if accepted:
        face = min(accepted, key=distance)
        assert face.embedding is not None
        return _of_face(face.embedding.vector, FACE, len(analysis.faces), face)
    chosen: AnalysedFace | None = None
    if analysis.faces:
        chosen = min(analysis.faces, key=distance)
        box, outcome = chosen.box, REJECTED_FACE
    else:
        half = max(1, round(CENTRAL_FALLBACK_SHARE * min(width, height) / 2))
        box = Box(width // 2 - half, height // 2 - half, width // 2 + half, height // 2 + half)
        outcome = FALLBACK
    chip = pipeline.aligner.align(image, box).chip
    [embedding] = pipeline.embedder.embed([chip])
    return _of_face(embedding.vector, outcome, len(analysis.faces), chosen)


def _of_face(
    vector: FloatArray, outcome: str, faces_found: int, face: AnalysedFace | None
) -> BenchmarkEmbedding:
    if face is None:
        return BenchmarkEmbedding(vector, outcome, faces_found)
    quality = face.quality
    return BenchmarkEmbedding(
        vector, outcome, faces_found, quality.size_px, quality.sharpness, face.detection.score
    )


_worker_pipeline: FacePipeline | None = None
_worker_transform: ImageTransform | None = None


def _init_worker(settings: Settings, transform: ImageTransform | None) -> None:
    global _worker_pipeline, _worker_transform
    _worker_pipeline = FacePipeline(settings)
    _worker_transform = transform


def _worker_embed(job: tuple[str, bytes]) -> BenchmarkEmbedding:
    assert _worker_pipeline is not None
    return embed_central_face(_worker_pipeline, job[1], job[0], _worker_transform)


def embed_images(
    paths: list[Path],
    settings: Settings,
    cache: EmbeddingCache,
    *,
    workers: int,
    progress: Callable[[int, int], None] | None = None,
    transform: ImageTransform | None = None,
) -> dict[Path, BenchmarkEmbedding]:
    """One embedding per image path (duplicates by content are embedded once), of the image
    as ``transform`` makes it when one is given."""
    pipeline = FacePipeline(settings)
    signature = pipeline_signature(settings, pipeline, transform)
    unique = list(dict.fromkeys(paths))
    hashes: dict[Path, str] = {}
    found: dict[str, BenchmarkEmbedding] = {}
    todo: dict[str, Path] = {}
    for path in unique:
        data = path.read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        hashes[path] = sha256
        cached = cache.get(sha256, signature)
        if cached is not None:
            found[sha256] = cached
        else:
            todo.setdefault(sha256, path)
    done = len(unique) - len(todo)
    if progress:
        progress(done, len(unique))

    def jobs() -> Iterator[tuple[str, bytes]]:
        for path in todo.values():
            yield str(path), path.read_bytes()

    if workers <= 1:
        results: Iterator[BenchmarkEmbedding] = (
            embed_central_face(pipeline, data, name, transform) for name, data in jobs()
        )
        pool = None
    else:
        pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(settings, transform),
        )
        results = pool.map(_worker_embed, jobs(), chunksize=8)
    try:
        for n, (sha256, embedding) in enumerate(zip(todo, results, strict=True), start=1):
            found[sha256] = embedding
            cache.put(sha256, signature, embedding)
            if n % 200 == 0:
                cache.commit()
            if progress:
                progress(done + n, len(unique))
    finally:
        cache.commit()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return {path: found[hashes[path]] for path in unique}
