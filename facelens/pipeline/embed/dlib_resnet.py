"""dlib's face-recognition ResNet run by dlib itself."""

from __future__ import annotations

from typing import Any

import dlib
import numpy as np

from facelens.config import Settings
from facelens.pipeline.decode import RgbImage
from facelens.pipeline.embed.base import Embedder
from facelens.pipeline.models import RESNET_EMBEDDER_FILE, model_path
from facelens.types import FloatArray, ModelId


class DlibResNetEmbedder(Embedder):
    """dlib's ResNet-34 face embedder (128-d), 99.38% on LFW as published by its author."""

    model = ModelId(name="dlib_face_recognition_resnet_model_v1", version="1", dim=128)

    def __init__(self, *, flip_average: bool = False, jitters: int = 0) -> None:
        self.flip_average = flip_average
        self.jitters = jitters
        self._net: Any = None

    def _network(self, chips: list[RgbImage]) -> FloatArray:
        if self._net is None:
            self._net = dlib.face_recognition_model_v1(str(model_path(RESNET_EMBEDDER_FILE)))
        found = self._net.compute_face_descriptor(chips, 0)  # jitters are made in base.py
        vectors: FloatArray = np.asarray([np.asarray(d) for d in found], dtype=np.float32)
        return vectors


def from_settings(settings: Settings) -> DlibResNetEmbedder:
    return DlibResNetEmbedder(
        flip_average=settings.embed_flip_average, jitters=settings.embed_jitters
    )
