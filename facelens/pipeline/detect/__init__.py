"""Detect stage: find face boxes. Backends are registered by name and load when chosen."""

from facelens.pipeline.detect.base import Detector, RawFace
from facelens.pipeline.detect.registry import (
    available_detectors,
    create_detector,
    register_detector,
)

__all__ = ["Detector", "RawFace", "available_detectors", "create_detector", "register_detector"]
