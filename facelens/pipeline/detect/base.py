"""The detector contract and its registry.

A detector takes an RGB image and returns face boxes with a score, and may give each face's
five landmarks (then the aligner uses them instead of predicting its own). Detectors load
their model lazily (first use), so building one is cheap and worker processes load their own
copy. Each backend lives in its own module and is chosen by name through ``detect.registry``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import NamedTuple

import numpy as np
from PIL import Image

from facelens.pipeline.decode import RgbImage
from facelens.types import Box, Detection, FloatArray


class RawFace(NamedTuple):
    """What a backend found, in the pixels of the image it was given."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2 (x2, y2 exclusive)
    score: float
    #: (5, 2) x, y in dlib's 5-point order (see ``Detection.landmarks``), or None.
    landmarks: FloatArray | None = None


class Detector(ABC):
    """Finds faces. Subclasses implement ``_detect`` on an image no larger than ``max_side_px``."""

    #: Registry name, also stored with every face the detector found.
    name: str = ""

    def __init__(self, max_side_px: int) -> None:
        self.max_side_px = max_side_px

    @property
    def description(self) -> str:
        """Name and settings, recorded with each detection."""
        return self.name

    def detect(self, image: RgbImage) -> list[Detection]:
        """Faces in ``image`` (H, W, 3 uint8), boxes clipped to the image, largest first;
        boxes and landmarks in the pixels of ``image`` even when it was detected on smaller."""
        height, width = image.shape[:2]
        scale = 1.0
        work = image
        if max(height, width) > self.max_side_px:
            # Detection cost grows with pixels; faces stay findable on a smaller copy.
            scale = self.max_side_px / max(height, width)
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            work = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
        found: list[Detection] = []
        for (x1, y1, x2, y2), score, landmarks in self._detect(work):
            box = _clip(x1 / scale, y1 / scale, x2 / scale, y2 / scale, width, height)
            if box is None:
                continue
            points = None if landmarks is None else np.asarray(landmarks, np.float32) / scale
            found.append(Detection(box, float(score), detector=self.description, landmarks=points))
        found.sort(key=lambda d: d.box.area, reverse=True)
        return found

    @abstractmethod
    def _detect(self, image: RgbImage) -> list[RawFace]:
        """The faces found in ``image``, in its pixels."""


def _clip(x1: float, y1: float, x2: float, y2: float, width: int, height: int) -> Box | None:
    cx1, cy1 = max(0, round(x1)), max(0, round(y1))
    cx2, cy2 = min(width, round(x2)), min(height, round(y2))
    if cx2 <= cx1 or cy2 <= cy1:
        return None
    return Box(cx1, cy1, cx2, cy2)
