"""Align stage: 5-point landmarks and the aligned face chip the embedder expects.

Uses dlib's 5-point shape predictor (eye corners and the bottom of the nose). The 68-point
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
    landmarks: FloatArray  # (5, 2) x, y in image pixels
    chip: RgbImage  # (CHIP_SIZE_PX, CHIP_SIZE_PX, 3) uint8


class FivePointAligner:
    """Predicts 5 landmarks inside a face box and cuts the aligned chip."""

    def __init__(self, padding: float = CHIP_PADDING) -> None:
        self.padding = padding
        self._predictor: Any = None

    def align(self, image: RgbImage, box: Box) -> AlignedFace:
        if self._predictor is None:
            self._predictor = dlib.shape_predictor(str(model_path(FIVE_POINT_LANDMARKS_FILE)))
        rect = dlib.rectangle(box.x1, box.y1, box.x2 - 1, box.y2 - 1)
        shape = self._predictor(image, rect)
        landmarks = np.array(
            [(shape.part(i).x, shape.part(i).y) for i in range(shape.num_parts)],
            dtype=np.float32,
        )
        chip = dlib.get_face_chip(image, shape, size=CHIP_SIZE_PX, padding=self.padding)
        return AlignedFace(landmarks=landmarks, chip=np.asarray(chip, dtype=np.uint8))
