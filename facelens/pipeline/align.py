"""Align stage: 5-point landmarks and the aligned face chip the embedder expects.

The landmarks are the detector's when it gives them (``Detection.landmarks``), otherwise
dlib's 5-point shape predictor's (eye corners and the bottom of the nose). The 68-point
model is never used: its training data forbids commercial use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dlib
import numpy as np

from facelens.pipeline.decode import RgbImage
from facelens.pipeline.models import FIVE_POINT_LANDMARKS_FILE, model_path
from facelens.types import Box, FloatArray

#: Side of the square chip the dlib ResNet embedder was trained on, and its context padding.
CHIP_SIZE_PX = 150
CHIP_PADDING = 0.25


@dataclass(frozen=True, slots=True)
class AlignedFace:
    landmarks: FloatArray  # (5, 2) x, y in image pixels: those the chip was cut on
    chip: RgbImage  # (CHIP_SIZE_PX, CHIP_SIZE_PX, 3) uint8


class FivePointAligner:
    """Predicts 5 landmarks inside a face box (unless the detector gave them) and cuts the
    aligned chip."""

    def __init__(self, padding: float = CHIP_PADDING) -> None:
        self.padding = padding
        self._predictor: Any = None

    def align(self, image: RgbImage, box: Box, landmarks: FloatArray | None = None) -> AlignedFace:
        """The chip of the face in ``box``. ``landmarks`` (``Detection.landmarks``: dlib's five
        points, in image pixels), when given, are used as they are; otherwise dlib's 5-point
        shape predictor finds them inside ``box``."""
        rect = dlib.rectangle(box.x1, box.y1, box.x2 - 1, box.y2 - 1)
        if landmarks is None:
            if self._predictor is None:
                self._predictor = dlib.shape_predictor(str(model_path(FIVE_POINT_LANDMARKS_FILE)))
            shape = self._predictor(image, rect)
        else:
            # dlib's shapes hold whole pixels, as the predictor's own points are.
            points = [dlib.point(round(float(x)), round(float(y))) for x, y in landmarks]
            shape = dlib.full_object_detection(rect, points)
        found = np.array(
            [(shape.part(i).x, shape.part(i).y) for i in range(shape.num_parts)],
            dtype=np.float32,
        )
        chip = dlib.get_face_chip(image, shape, size=CHIP_SIZE_PX, padding=self.padding)
        return AlignedFace(landmarks=found, chip=np.asarray(chip, dtype=np.uint8))
