"""MTCNN's weights: fetched once from the facenet-pytorch wheel on PyPI, checked, cached.

facenet-pytorch ships the three networks' weights as torch state dicts,
``facenet_pytorch/data/{pnet,rnet,onet}.pt``. facelens needs neither torch nor facenet-pytorch:
at first use, ``pip download`` fetches the pinned wheel (no dependencies, nothing installed),
the wheel is checked against its pinned sha256, only the three ``.pt`` files are taken out of
it (a wheel is a zip), each is checked against its own pinned sha256, and they are kept in
``<onnx_model_dir>/mtcnn-facenet-pytorch-2.6.0/``. Later uses check the cached files' hashes
and read them with ``torch_file``'s restricted unpickler; nothing is fetched again.

``python -m facelens.pipeline.detect.mtcnn`` does this ahead of time (``scripts/setup.sh``
runs it), so tests and ingest workers find the weights in place.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from facelens.errors import ModelDownloadError, ModelIntegrityError
from facelens.pipeline.detect.mtcnn.torch_file import StateDict, read_state_dict
from facelens.pipeline.models import cache_folder, sha256_hex, write_atomically

log = logging.getLogger(__name__)

WHEEL_REQUIREMENT = "facenet-pytorch==2.6.0"
WHEEL_FILE = "facenet_pytorch-2.6.0-py3-none-any.whl"
#: The wheel as PyPI serves it (the same hash the first MTCNN attempt pinned).
WHEEL_SHA256 = "ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca"
#: The three networks' files inside the wheel, each with its own sha256.
WEIGHTS_SHA256 = {
    "pnet": "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
    "rnet": "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
    "onet": "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
}
NETWORKS = tuple(WEIGHTS_SHA256)
_MEMBER = "facenet_pytorch/data/{}.pt"
#: The cache's subfolder: the weights' source is in its name.
FOLDER = "mtcnn-facenet-pytorch-2.6.0"


def weights_folder(cache_dir: Path | None = None) -> Path:
    """Where the ``.pt`` files (and the ONNX graphs made from them) are cached."""
    return cache_folder(cache_dir) / FOLDER


def _is_intact(path: Path, sha256: str) -> bool:
    try:
        return sha256_hex(path.read_bytes()) == sha256
    except OSError:
        return False


def weight_files(cache_dir: Path | None = None) -> dict[str, Path]:
    """The ``.pt`` file of each network (``pnet``, ``rnet``, ``onet``), checked against its
    pinned sha256; the wheel is fetched and unpacked first when any is missing or altered."""
    folder = weights_folder(cache_dir)
    files = {name: folder / f"{name}.pt" for name in NETWORKS}
    if all(_is_intact(files[name], WEIGHTS_SHA256[name]) for name in NETWORKS):
        return files
    with tempfile.TemporaryDirectory(prefix="facelens-mtcnn-") as download:
        wheel = download_wheel(Path(download))
        extract_weights(wheel, folder)
    return files


def download_wheel(folder: Path) -> Path:
    """Fetch the pinned facenet-pytorch wheel into ``folder`` with pip (no dependencies, no
    install) and return its path. Raises ``ModelDownloadError``."""
    log.info("fetching %s from the package index for MTCNN's weights", WHEEL_REQUIREMENT)
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--no-deps", "--only-binary=:all:", WHEEL_REQUIREMENT, "-d", str(folder),
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ModelDownloadError(
            f"could not run pip to fetch {WHEEL_REQUIREMENT}: {error}"
        ) from error
    wheel = folder / WHEEL_FILE
    if done.returncode != 0 or not wheel.is_file():
        raise ModelDownloadError(
            f"could not download {WHEEL_REQUIREMENT} (MTCNN's weights) from the package index: "
            f"{done.stderr.strip()[-500:]}; check the network or pip's index settings, or "
            "choose another detector"
        )
    return wheel


def extract_weights(wheel: Path, folder: Path) -> None:
    """Check ``wheel`` against the pinned sha256, then write its three ``.pt`` files, each
    checked against its own, into ``folder``. Raises ``ModelIntegrityError`` (and writes
    nothing) when the wheel or a file in it is not the pinned one."""
    data = wheel.read_bytes()
    got = sha256_hex(data)
    if got != WHEEL_SHA256:
        raise ModelIntegrityError(
            f"{wheel.name} has sha256 {got}, not the pinned {WHEEL_SHA256}: refused; "
            "the package index served another file"
        )
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = {name: archive.read(_MEMBER.format(name)) for name in NETWORKS}
    except (KeyError, zipfile.BadZipFile) as error:
        raise ModelIntegrityError(f"{wheel.name} lacks MTCNN's weights: {error}") from error
    for name, content in members.items():
        if sha256_hex(content) != WEIGHTS_SHA256[name]:
            raise ModelIntegrityError(f"{name}.pt in {wheel.name} is not the pinned file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in members.items():
            write_atomically(folder / f"{name}.pt", content)
    except OSError as error:
        raise ModelIntegrityError(
            f"cannot write MTCNN's weights to {folder}: {error.strerror}; set onnx_model_dir "
            "(FACELENS_ONNX_MODEL_DIR) to a writable folder"
        ) from error


def read_weights(path: Path, sha256: str) -> StateDict:
    """The state dict in the ``.pt`` file at ``path``, whose bytes must hash to ``sha256``
    (checked on the bytes that are then read)."""
    data = path.read_bytes()
    if sha256_hex(data) != sha256:
        raise ModelIntegrityError(f"{path} is not the pinned file (sha256 differs): refused")
    return read_state_dict(data, source=str(path))


def load_weights(cache_dir: Path | None = None) -> dict[str, StateDict]:
    """Each network's state dict, by network name, from the cache (fetched first if need be)."""
    files = weight_files(cache_dir)
    return {name: read_weights(files[name], WEIGHTS_SHA256[name]) for name in NETWORKS}
