"""The detectors by name: ``create_detector(settings)`` builds the one ``detector`` names.

The built-in backends are registered by a factory that imports their module only when the
backend is chosen. The registry lives apart from the ``Detector`` base class so that backends
import the base without the base importing them back.
"""

from __future__ import annotations

from collections.abc import Callable

from facelens.config import Settings
from facelens.pipeline.detect.base import Detector
from facelens.registry import Registry

DetectorFactory = Callable[[Settings], Detector]
DETECTORS: Registry[DetectorFactory] = Registry("detector")


def register_detector(name: str, factory: DetectorFactory) -> None:
    DETECTORS.register(name, factory)


def create_detector(settings: Settings) -> Detector:
    return DETECTORS.get(settings.detector)(settings)


def available_detectors() -> list[str]:
    return DETECTORS.names()


# The built-in backends. Each factory imports its backend's module when it is called, i.e.
# when the backend is chosen, never when this module is imported.


def _hog(settings: Settings) -> Detector:
    from facelens.pipeline.detect import dlib_detectors

    return dlib_detectors.hog(settings)


def _cnn(settings: Settings) -> Detector:
    from facelens.pipeline.detect import dlib_detectors

    return dlib_detectors.cnn(settings)


def _mtcnn(settings: Settings) -> Detector:
    from facelens.pipeline.detect.mtcnn import detector

    return detector.from_settings(settings)


register_detector("hog", _hog)
register_detector("cnn", _cnn)
register_detector("mtcnn", _mtcnn)
