"""Where the model weights live: the ``face_recognition_models`` package, never a download.

The package's ``__init__`` imports ``pkg_resources``, which current setuptools no longer ships,
so we locate its folder through the import system without executing it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from facelens.errors import ModelNotAvailableError

RESNET_EMBEDDER_FILE = "dlib_face_recognition_resnet_model_v1.dat"
FIVE_POINT_LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"
CNN_DETECTOR_FILE = "mmod_human_face_detector.dat"
# shape_predictor_68_face_landmarks.dat is deliberately never used: its training data
# (iBUG 300-W) forbids commercial use.


def model_path(filename: str) -> Path:
    """Path of a weights file shipped in the ``face_recognition_models`` package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailableError(
            "the face_recognition_models package is not installed; "
            "run `pip install face_recognition_models==0.3.0`"
        )
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "models" / filename
        if candidate.is_file():
            return candidate
    raise ModelNotAvailableError(
        f"{filename} is missing from the face_recognition_models package; reinstall it"
    )
