"""dlib's two face detectors: HOG + linear SVM (fast on CPU) and the CNN (MMOD, slower, finds
more profile and low-light faces)."""

from __future__ import annotations

from typing import Any

import dlib

from facelens.config import Settings
from facelens.pipeline.decode import RgbImage
from facelens.pipeline.detect.base import Detector, RawFace
from facelens.pipeline.models import CNN_DETECTOR_FILE, model_path


class _DlibDetector(Detector):
    """Shared by both dlib detectors: the upsampling setting and a lazily loaded model."""

    def __init__(self, max_side_px: int, upsample_times: int) -> None:
        super().__init__(max_side_px)
        self.upsample_times = upsample_times
        self._model: Any = None

    @property
    def description(self) -> str:
        return f"{self.name}(upsample={self.upsample_times})"


class DlibHogDetector(_DlibDetector):
    name = "dlib-hog"

    def _detect(self, image: RgbImage) -> list[RawFace]:
        if self._model is None:
            self._model = dlib.get_frontal_face_detector()
        rects, scores, _ = self._model.run(image, self.upsample_times, 0.0)
        return [
            RawFace((r.left(), r.top(), r.right() + 1, r.bottom() + 1), s)
            for r, s in zip(rects, scores, strict=True)
        ]


class DlibCnnDetector(_DlibDetector):
    name = "dlib-cnn"

    def _detect(self, image: RgbImage) -> list[RawFace]:
        if self._model is None:
            self._model = dlib.cnn_face_detection_model_v1(str(model_path(CNN_DETECTOR_FILE)))
        found = self._model(image, self.upsample_times)
        rects = [(d.rect, d.confidence) for d in found]
        return [RawFace((r.left(), r.top(), r.right() + 1, r.bottom() + 1), s) for r, s in rects]


def hog(settings: Settings) -> DlibHogDetector:
    return DlibHogDetector(settings.detect_max_side_px, settings.detect_upsample_times)


def cnn(settings: Settings) -> DlibCnnDetector:
    return DlibCnnDetector(settings.detect_max_side_px, settings.detect_upsample_times)
