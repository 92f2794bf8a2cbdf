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
from facelens.pipeline.embed.jitter import jittered_copies
from facelens.types import Embedding, FloatArray, ModelId


class Embedder(ABC):
    """Chips in, embeddings out. A backend gives only its network's raw outputs
    (``_network``); the mirror images and jittered copies around it are made here, the same
    for every backend."""

    model: ModelId
    #: The chip template the model was trained on; the pipeline aligns faces in it.
    alignment: Alignment = "dlib-150"
    #: Average each chip's embedding with its mirror image's.
    flip_average: bool = False
    #: Jittered copies averaged into each embedding when ``embed`` is not told otherwise.
    jitters: int = 0

    def embed(self, chips: list[RgbImage], *, jitters: int | None = None) -> list[Embedding]:
        """One embedding per aligned chip, L2-normalised float32. With ``jitters`` above 1
        (by default the embedder's own ``jitters``), each is the mean of that many jittered
        copies of its chip (``embed.jitter``), which mirror half the time, in place of the
        chip and its mirror image."""
        if not chips:
            return []
        count = self.jitters if jitters is None else jitters
        raw = self._jittered(chips, count) if count > 1 else self._plain(chips)
        return [Embedding(vector=v, model=self.model) for v in l2_normalise(raw)]

    def _plain(self, chips: list[RgbImage]) -> FloatArray:
        if not self.flip_average:
            return self._network(chips)
        # A chip and its mirror image side by side, so that they share a batch.
        rows = [row for chip in chips for row in (chip, np.ascontiguousarray(chip[:, ::-1]))]
        out = self._network(rows)
        # Mirror images of a face are the same person; their mean embedding is steadier.
        summed: FloatArray = l2_normalise(out[0::2]) + l2_normalise(out[1::2])
        return summed

    def _jittered(self, chips: list[RgbImage], count: int) -> FloatArray:
        rows = [copy for chip in chips for copy in jittered_copies(chip, count)]
        out = self._network(rows)
        # dlib's num_jitters maths: the mean of the copies' raw descriptors.
        mean: FloatArray = out.reshape(len(chips), count, -1).mean(axis=1)
        return mean

    @abstractmethod
    def _network(self, chips: list[RgbImage]) -> FloatArray:
        """(n, dim) float32 raw outputs of the network, one row per chip, in the backend's
        own batches."""


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
