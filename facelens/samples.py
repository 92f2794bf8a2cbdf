"""Real sample photos from registry packages, for the demo and the tests.

The ``face_recognition==1.3.0`` source distribution on PyPI ships ``tests/test_images/``
(Barack Obama three times, Joe Biden, partial faces). We fetch it with pip (pinned and checked
against its sha256), keep it in a cache folder, and never commit photos to the repository.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from facelens.errors import SampleDownloadError

SDIST_REQUIREMENT = "face_recognition==1.3.0"
SDIST_FILE = "face_recognition-1.3.0.tar.gz"
SDIST_SHA256 = "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec"
_MEMBER_PREFIX = "face_recognition-1.3.0/tests/test_images/"


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "facelens" / "samples"


def sample_photos(cache_dir: Path | None = None) -> Path:
    """Folder holding obama.jpg, obama2.jpg, obama3.jpg, biden.jpg and the partial faces."""
    cache_dir = cache_dir or default_cache_dir()
    target = cache_dir / "face_recognition-1.3.0"
    if (target / "obama.jpg").is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    sdist = cache_dir / SDIST_FILE
    if not sdist.is_file() or _sha256(sdist) != SDIST_SHA256:
        _download(cache_dir)
    if _sha256(sdist) != SDIST_SHA256:
        sdist.unlink()
        raise SampleDownloadError(f"{SDIST_FILE} does not match its pinned sha256; refused")
    staging = Path(tempfile.mkdtemp(dir=cache_dir))
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            name = member.name.removeprefix(_MEMBER_PREFIX)
            if member.isfile() and member.name.startswith(_MEMBER_PREFIX) and "/" not in name:
                source = archive.extractfile(member)
                assert source is not None
                (staging / name).write_bytes(source.read())
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target


def _download(cache_dir: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--no-binary",
        ":all:",
        SDIST_REQUIREMENT,
        "-d",
        str(cache_dir),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not (cache_dir / SDIST_FILE).is_file():
        raise SampleDownloadError(
            f"could not download {SDIST_REQUIREMENT} from the package index: "
            f"{done.stderr.strip()[-500:]}"
        )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
