"""Detect stage: find face boxes. Backends register themselves by name."""

from facelens.pipeline.detect import dlib_detectors as _dlib_detectors  # noqa: F401  (registers backends)
from facelens.pipeline.detect.base import (
    Detector,
    available_detectors,
    create_detector,
    register_detector,
)

__all__ = ["Detector", "available_detectors", "create_detector", "register_detector"]
