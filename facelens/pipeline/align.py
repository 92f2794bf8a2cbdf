"""Align stage: 5-point landmarks and the aligned face chip the embedder expects.

The landmarks are the detector's when it gives them (``Detection.landmarks``), otherwise
dlib's 5-point shape predictor's (eye corners and the bottom of the nose). The 68-point
model is never used: its training data forbids commercial use.

Two chip templates (``Alignment``), chosen by the embedder (``Embedder.alignment``):
``dlib-150``, dlib's own 150x150 chip (``FivePointAligner``), and ``arcface-112``, the 5-point
112x112 template most ONNX face models (ArcFace and its kin) were trained on
(``ArcFaceAligner``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

import dlib
import numpy as np

from facelens.pipeline.decode import RgbImage
from facelens.pipeline.models import FIVE_POINT_LANDMARKS_FILE, model_path
from facelens.types import Box, FloatArray

#: The chip templates an embedder can ask for.
Alignment = Literal["dlib-150", "arcface-112"]
#: What a set of five landmarks means: dlib's (two corners of each eye, bottom of the nose;
#: see ``Detection.landmarks``) or ArcFace's (eye centres, nose tip, mouth corners).
LandmarkScheme = Literal["dlib-5", "arcface-5"]

#: Side of the square chip the dlib ResNet embedder was trained on, and its context padding.
CHIP_SIZE_PX = 150
CHIP_PADDING = 0.25
ARCFACE_CHIP_SIZE_PX = 112
#: ArcFace's 112x112 reference points (x, y): the eye on the image's left, the other eye, the
#: nose tip, the mouth corner on the image's left, the other one (insightface's face_align).
ARCFACE_112_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)
#: Chip side of each template.
CHIP_SIZES_PX: dict[str, int] = {"dlib-150": CHIP_SIZE_PX, "arcface-112": ARCFACE_CHIP_SIZE_PX}


@dataclass(frozen=True, slots=True)
class AlignedFace:
    landmarks: FloatArray  # (5, 2) x, y in image pixels: those the chip was cut on
    chip: RgbImage  # (side, side, 3) uint8, side the template's (CHIP_SIZES_PX)


class Aligner(Protocol):
    """Cuts the chip of one face, on its landmarks, in one template."""

    alignment: Alignment

    def align(
        self, image: RgbImage, box: Box, landmarks: FloatArray | None = None
    ) -> AlignedFace: ...


class FivePointAligner:
    """Predicts 5 landmarks inside a face box (unless the detector gave them) and cuts the
    aligned chip."""

    alignment: Alignment = "dlib-150"

    def __init__(self, padding: float = CHIP_PADDING) -> None:
        self.padding = padding
        self._predictor: Any = None

    def align(self, image: RgbImage, box: Box, landmarks: FloatArray | None = None) -> AlignedFace:
        """The chip of the face in ``box``. ``landmarks`` (``Detection.landmarks``: dlib's five
        points, in image pixels), when given, are used as they are; otherwise dlib's 5-point
        shape predictor finds them inside ``box``."""
        shape = self._shape(image, box, landmarks)
        chip = dlib.get_face_chip(image, shape, size=CHIP_SIZE_PX, padding=self.padding)
        return AlignedFace(landmarks=_points(shape), chip=np.asarray(chip, dtype=np.uint8))

    def _shape(self, image: RgbImage, box: Box, landmarks: FloatArray | None) -> Any:
        """dlib's shape of the face: the given landmarks, or the predictor's."""
        rect = dlib.rectangle(box.x1, box.y1, box.x2 - 1, box.y2 - 1)
        if landmarks is None:
            if self._predictor is None:
                self._predictor = dlib.shape_predictor(str(model_path(FIVE_POINT_LANDMARKS_FILE)))
            shape = self._predictor(image, rect)
        else:
            # dlib's shapes hold whole pixels, as the predictor's own points are.
            points = [dlib.point(round(float(x)), round(float(y))) for x, y in landmarks]
            shape = dlib.full_object_detection(rect, points)
        return shape


class ArcFaceAligner(FivePointAligner):
    """The 112x112 ArcFace chip: a similarity transform fitted from the landmarks to
    ``ARCFACE_112_TEMPLATE``, then a bilinear warp (black outside the image, as insightface's).

    dlib's five points have no mouth corners and mark the bottom of the nose rather than its
    tip, so they are fitted as three: each eye's centre (the mean of its two corners) and the
    nose, on the template's eyes and nose tip. Landmarks of the ``arcface-5`` scheme (a future
    detector's) are fitted on all five."""

    alignment: Alignment = "arcface-112"

    def align(
        self,
        image: RgbImage,
        box: Box,
        landmarks: FloatArray | None = None,
        scheme: LandmarkScheme = "dlib-5",
    ) -> AlignedFace:
        """The chip of the face in ``box``, on ``landmarks`` (image pixels, in ``scheme``)
        when given, else on dlib's predicted ones."""
        if landmarks is None:
            points, scheme = _points(self._shape(image, box, None)), "dlib-5"
        else:
            points = np.asarray(landmarks, dtype=np.float32)
        source, target = fit_points(points, scheme)
        chip = warp_similarity(image, source, target, ARCFACE_CHIP_SIZE_PX)
        return AlignedFace(landmarks=points, chip=chip)


def make_aligner(alignment: Alignment, padding: float = CHIP_PADDING) -> Aligner:
    """The aligner that cuts chips in ``alignment``'s template (``padding``: dlib-150 only,
    ArcFace's template fixes its own margins)."""
    if alignment == "dlib-150":
        return FivePointAligner(padding)
    if alignment == "arcface-112":
        return ArcFaceAligner(padding)
    raise ValueError(f"unknown alignment {alignment!r}; choose dlib-150 or arcface-112")


def fit_points(landmarks: FloatArray, scheme: LandmarkScheme) -> tuple[FloatArray, FloatArray]:
    """The landmark points and the ArcFace template points they are fitted on, as two
    (k, 2) arrays: k = 3 for dlib's scheme (eye centres and nose), 5 for ArcFace's."""
    points = np.asarray(landmarks, dtype=np.float64)
    if scheme == "arcface-5":
        return points.astype(np.float32), ARCFACE_112_TEMPLATE.astype(np.float32)
    # dlib: 0, 1 the eye on the image's right; 2, 3 the one on its left; 4 the nose.
    image_left_eye = points[2:4].mean(axis=0)
    image_right_eye = points[0:2].mean(axis=0)
    source = np.stack([image_left_eye, image_right_eye, points[4]])
    return source.astype(np.float32), ARCFACE_112_TEMPLATE[:3].astype(np.float32)


def warp_similarity(
    image: RgbImage, source: FloatArray, target: FloatArray, size_px: int
) -> RgbImage:
    """The (size_px, size_px, 3) uint8 chip that maps ``source`` points of ``image`` onto
    ``target`` points by the least-squares similarity transform (rotation, scale, shift)."""
    # Imported here: only deployments whose embedder asks for this template need it.
    from skimage.transform import SimilarityTransform, warp

    fitted = SimilarityTransform.from_estimate(
        np.asarray(source, np.float64), np.asarray(target, np.float64)
    )
    if not fitted:
        raise ValueError(f"landmarks {source.tolist()} do not fit a similarity transform")
    inverse = fitted.inverse
    # Warp only the part of the image the chip shows: skimage converts its input to float,
    # which for a whole large photo would cost hundreds of MB a face.
    corners = inverse(np.array([[0, 0], [size_px, 0], [0, size_px], [size_px, size_px]], float))
    height, width = image.shape[:2]
    x0 = int(np.clip(np.floor(corners[:, 0].min()) - 2, 0, width - 1))
    y0 = int(np.clip(np.floor(corners[:, 1].min()) - 2, 0, height - 1))
    x1 = int(np.clip(np.ceil(corners[:, 0].max()) + 2, x0 + 1, width))
    y1 = int(np.clip(np.ceil(corners[:, 1].max()) + 2, y0 + 1, height))
    offset = np.array([x0, y0], dtype=np.float64)

    def to_crop(coords: Any) -> Any:
        return inverse(coords) - offset

    warped = warp(  # type: ignore[no-untyped-call]
        image[y0:y1, x0:x1],
        to_crop,
        output_shape=(size_px, size_px),
        order=1,
        mode="constant",
        cval=0.0,
        preserve_range=True,
    )
    return np.ascontiguousarray(np.clip(np.rint(warped), 0, 255).astype(np.uint8))


def _points(shape: Any) -> FloatArray:
    """A dlib shape's points as (n, 2) float32 x, y."""
    return np.array(
        [(shape.part(i).x, shape.part(i).y) for i in range(shape.num_parts)], dtype=np.float32
    )
