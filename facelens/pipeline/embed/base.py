"""Embed stage: aligned chips -> L2-normalised embeddings, each tagged with its model id."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import dlib
import numpy as np

from facelens.config import Settings
from facelens.errors import ModelMismatchError
from facelens.pipeline.decode import RgbImage
from facelens.pipeline.models import RESNET_EMBEDDER_FILE, model_path
from facelens.registry import Registry
from facelens.types import Embedding, FloatArray, ModelId


class Embedder(ABC):
    model: ModelId

    def embed(self, chips: list[RgbImage]) -> list[Embedding]:
        """One embedding per aligned chip, L2-normalised float32."""
        if not chips:
            return []
        raw = self._embed(chips)
        return [Embedding(vector=v, model=self.model) for v in l2_normalise(raw)]

    @abstractmethod
    def _embed(self, chips: list[RgbImage]) -> FloatArray:
        """(n, dim) float32 raw embeddings."""


class DlibResNetEmbedder(Embedder):
    """dlib's ResNet-34 face embedder (128-d), 99.38% on LFW as published by its author."""

    model = ModelId(name="dlib_face_recognition_resnet_model_v1", version="1", dim=128)

    def __init__(self, *, flip_average: bool = False, jitters: int = 0) -> None:
        self.flip_average = flip_average
        self.jitters = jitters
        self._net: Any = None

    def _embed(self, chips: list[RgbImage]) -> FloatArray:
        if self._net is None:
            self._net = dlib.face_recognition_model_v1(str(model_path(RESNET_EMBEDDER_FILE)))
        vectors = self._descriptors(chips)
        if self.flip_average:
            # Mirror images of a face are the same person; their mean embedding is steadier.
            mirrored = self._descriptors([np.ascontiguousarray(c[:, ::-1]) for c in chips])
            vectors = l2_normalise(vectors) + l2_normalise(mirrored)
        return vectors

    def _descriptors(self, chips: list[RgbImage]) -> FloatArray:
        found = self._net.compute_face_descriptor(chips, self.jitters)
        vectors: FloatArray = np.asarray([np.asarray(d) for d in found], dtype=np.float32)
        return vectors


EmbedderFactory = Callable[[Settings], Embedder]
EMBEDDERS: Registry[EmbedderFactory] = Registry("embedder")


def register_embedder(name: str, factory: EmbedderFactory) -> None:
    EMBEDDERS.register(name, factory)


def create_embedder(settings: Settings) -> Embedder:
    """The embedder the ``embedder`` setting names, with the embedding settings."""
    return EMBEDDERS.get(settings.embedder)(settings)


def available_embedders() -> list[str]:
    return EMBEDDERS.names()


def _dlib(settings: Settings) -> Embedder:
    return DlibResNetEmbedder(
        flip_average=settings.embed_flip_average, jitters=settings.embed_jitters
    )


def _onnx(settings: Settings) -> Embedder:
    # Imported here: the converter and ONNX Runtime load only when this backend is chosen.
    from facelens.pipeline.embed.dlib_onnx.embedder import OnnxResNetEmbedder

    return OnnxResNetEmbedder(
        flip_average=settings.embed_flip_average,
        jitters=settings.embed_jitters,
        batch_size=settings.embed_batch_size,
        provider=settings.embed_provider,
        intra_op_threads=settings.onnx_intra_op_threads,
        cache_dir=settings.onnx_model_dir,
    )


register_embedder("dlib", _dlib)
register_embedder("onnx", _onnx)


def l2_normalise(vectors: FloatArray) -> FloatArray:
    """Rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    unit: FloatArray = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    return unit


def similarity(a: Embedding, b: Embedding) -> float:
    """Cosine similarity in [-1, 1]; refuses embeddings of different models."""
    if a.model != b.model:
        raise ModelMismatchError(
            f"cannot compare an embedding of {a.model} with one of {b.model}: "
            "re-embed both with the same model"
        )
    return float(np.clip(np.dot(a.vector, b.vector), -1.0, 1.0))


def fused_template(templates: FloatArray) -> FloatArray:
    """Several photos of one person as one template: their mean, L2-normalised, (dim,). On
    LFW it finds more of a person's faces for fewer strangers than the best of the photos
    taken one by one (bench/subject_requests.py), for subject requests and the opt-out list
    alike."""
    mean = np.asarray(templates, dtype=np.float32).reshape(-1, templates.shape[-1]).mean(axis=0)
    return np.asarray(mean / max(float(np.linalg.norm(mean)), 1e-12), dtype=np.float32)
