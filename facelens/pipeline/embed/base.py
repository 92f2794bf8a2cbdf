"""The embedder contract and the helpers on embeddings.

An embedder turns aligned chips into L2-normalised embeddings, each tagged with its model id.
Each backend lives in its own module and is chosen by name through ``embed.registry``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from facelens.errors import ModelMismatchError
from facelens.pipeline.align import Alignment
from facelens.pipeline.decode import RgbImage
from facelens.types import Embedding, FloatArray, ModelId


class Embedder(ABC):
    model: ModelId
    #: The chip template the model was trained on; the pipeline aligns faces in it.
    alignment: Alignment = "dlib-150"

    def embed(self, chips: list[RgbImage]) -> list[Embedding]:
        """One embedding per aligned chip, L2-normalised float32."""
        if not chips:
            return []
        raw = self._embed(chips)
        return [Embedding(vector=v, model=self.model) for v in l2_normalise(raw)]

    @abstractmethod
    def _embed(self, chips: list[RgbImage]) -> FloatArray:
        """(n, dim) float32 raw embeddings."""


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
