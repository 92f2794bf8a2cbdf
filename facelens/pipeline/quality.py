"""Quality stage: is a face good enough to index? Rejections keep their reason."""

from __future__ import annotations

import numpy as np

from facelens.pipeline.decode import RgbImage
from facelens.types import Detection, FaceQuality

TOO_SMALL = "too_small"
TOO_BLURRY = "too_blurry"
TOO_MANY_FACES = "too_many_faces"
LOW_DETECTOR_SCORE = "low_detector_score"

#: Each reason in words, for the summaries people read (the codes are for programs).
REASON_WORDS = {
    TOO_SMALL: "too small",
    TOO_BLURRY: "too blurry",
    TOO_MANY_FACES: "past max faces per image",
    LOW_DETECTOR_SCORE: "low detector score",
}


def reason_in_words(reason: str, min_face_size_px: int | None = None) -> str:
    """``too_small`` -> "too small (under 40 px)" (with the gate, when given)."""
    words = REASON_WORDS.get(reason, reason)
    if reason == TOO_SMALL and min_face_size_px is not None:
        words += f" (under {min_face_size_px} px)"
    return words


def sharpness(chip: RgbImage) -> float:
    """Variance of the 4-neighbour Laplacian of the grey chip: low means blurred."""
    grey = chip.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    lap = (
        grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4.0 * grey[1:-1, 1:-1]
    )
    return float(lap.var())


def assess(
    detection: Detection,
    chip: RgbImage,
    *,
    min_face_size_px: int,
    min_sharpness: float,
    min_detector_score: float,
) -> FaceQuality:
    """Size, sharpness and the first reason (if any) not to index the face."""
    size_px = detection.box.short_side
    sharp = sharpness(chip)
    reason: str | None = None
    if detection.score < min_detector_score:
        reason = LOW_DETECTOR_SCORE
    elif size_px < min_face_size_px:
        reason = TOO_SMALL
    elif sharp < min_sharpness:
        reason = TOO_BLURRY
    return FaceQuality(size_px=size_px, sharpness=sharp, rejection_reason=reason)
