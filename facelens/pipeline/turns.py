"""Photos turned sideways without an EXIF orientation (scans, some phone exports): the image
turned by a quarter, half or three quarters, and what is found in it mapped back onto the
photo as it was given, so boxes and landmarks always refer to the stored image.

Turns are clockwise, in degrees: "turned 90" means the photo had to be turned a quarter
clockwise for its faces to stand upright.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from facelens.pipeline.decode import RgbImage
from facelens.types import AnalysedFace, Box, Detection, FloatArray

#: The order turns are tried in: sideways either way first (phones), upside down last.
TURNS_DEGREES = (90, 270, 180)


def turned(image: RgbImage, degrees: int) -> RgbImage:
    """``image`` turned ``degrees`` clockwise (a multiple of 90)."""
    return np.ascontiguousarray(np.rot90(image, k=-(degrees // 90)))


def box_back(box: Box, degrees: int, width: int, height: int) -> Box:
    """A box of the turned image as a box of the original ``width`` x ``height`` image."""
    x1, y1, x2, y2 = box.x1, box.y1, box.x2, box.y2
    if degrees == 90:
        return Box(y1, height - x2, y2, height - x1)
    if degrees == 180:
        return Box(width - x2, height - y2, width - x1, height - y1)
    if degrees == 270:
        return Box(width - y2, x1, width - y1, x2)
    return box


def points_back(points: FloatArray, degrees: int, width: int, height: int) -> FloatArray:
    """(n, 2) pixel points of the turned image as points of the original image."""
    x, y = points[:, 0], points[:, 1]
    if degrees == 90:
        back = np.stack([y, height - 1 - x], axis=1)
    elif degrees == 180:
        back = np.stack([width - 1 - x, height - 1 - y], axis=1)
    elif degrees == 270:
        back = np.stack([width - 1 - y, x], axis=1)
    else:
        back = points
    return np.asarray(back, dtype=np.float32)


def face_back(face: AnalysedFace, degrees: int, width: int, height: int) -> AnalysedFace:
    """A face found in the turned image, its box and landmarks on the original image."""
    detection: Detection = face.detection
    landmarks = detection.landmarks
    moved = replace(
        detection,
        box=box_back(detection.box, degrees, width, height),
        landmarks=None if landmarks is None else points_back(landmarks, degrees, width, height),
    )
    return replace(
        face, detection=moved, landmarks=points_back(face.landmarks, degrees, width, height)
    )
