"""Shared fixtures: real photos from registry packages, real models, real store and index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from facelens.config import Settings
from facelens.engine import Engine
from facelens.pipeline import FacePipeline
from facelens.samples import sample_photos

LFW_ROOT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "lfw"


@pytest.fixture(scope="session")
def photos() -> Path:
    """face_recognition 1.3.0's test images (obama*.jpg, biden.jpg), fetched from PyPI."""
    return sample_photos()


@pytest.fixture(scope="session")
def astronaut(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scikit-image's astronaut (Eileen Collins), written as a PNG file."""
    from skimage import data

    path = tmp_path_factory.mktemp("skimage") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)  # type: ignore[no-untyped-call]
    return path


@pytest.fixture(scope="session")
def grace_hopper() -> Path:
    """matplotlib's sample photo of Grace Hopper."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@pytest.fixture(scope="session")
def pipeline() -> FacePipeline:
    """One pipeline for the session: models load once."""
    return FacePipeline(Settings())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def engine(settings: Settings, pipeline: FacePipeline) -> Iterator[Engine]:
    with Engine(settings, pipeline=pipeline) as opened:
        yield opened


@pytest.fixture(scope="session")
def lfw() -> Path:
    if not (LFW_ROOT / "pairs.txt").is_file():
        pytest.skip(f"LFW not found at {LFW_ROOT}")
    return LFW_ROOT
