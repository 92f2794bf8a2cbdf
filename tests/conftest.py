"""Shared fixtures: real photos from registry packages, real models, real store and index."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypedDict

import pytest
from PIL import Image
from sqlalchemy import create_engine
from typer.testing import CliRunner, Result

from facelens.cli.main import app
from facelens.config import Settings
from facelens.engine import Engine
from facelens.pipeline.analyse import FacePipeline
from facelens.privacy.policy import CollectionPolicy, LegalBasis
from facelens.samples import sample_photos
from facelens.store.sql import migrate
from tests.postgres_server import PostgresServer, postgres_server

#: Test files marked ``slow``: LFW, crash loops, fuzzing, load, hostile corpora, Ray (the
#: browser tests under tests/web mark themselves).
#: ``pytest -m "not slow"`` runs the rest in a couple of minutes while working.
SLOW_TEST_FILES = frozenset(
    {
        "test_api_load.py",
        "test_crash_ingest.py",
        "test_hostile_api.py",
        "test_hostile_files.py",
        "test_lfw.py",
        "test_privacy_probe.py",
        "test_ray_ingest.py",  # a two-node Ray cluster started and stopped (about 80 s)
        "test_subject_rights.py",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SLOW_TEST_FILES:
            item.add_marker(pytest.mark.slow)


#: The migrated database each test's PostgreSQL database is a copy of.
PG_TEMPLATE = "facelens_template"
_databases = itertools.count(1)

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


class Why(TypedDict):
    purpose: str
    case_ref: str


#: Why a test searches: every search is refused without a purpose and a case reference.
SEARCH_WHY: Why = {"purpose": "testing facelens", "case_ref": "TEST-1"}


#: The legal basis test collections declare (ingest into a collection without one is refused).
TEST_POLICY = CollectionPolicy(
    basis=LegalBasis.OTHER,
    basis_text="software testing with public sample photos",
    jurisdictions=["EU"],
    purpose="testing facelens",
    retention_days=30,
)


Declare = Callable[..., None]


def _declare(engine: Engine, *names: str, policy: CollectionPolicy = TEST_POLICY) -> None:
    for name in names:
        engine.create_collection(name, policy)


@pytest.fixture(scope="session")
def declare() -> Declare:
    """``declare(engine, *names, policy=TEST_POLICY)``: create collections with a legal basis,
    so that they can be ingested into."""
    return _declare


#: ``facelens collection create NAME`` options for a press archive (a public task, GB).
PRESS_ARCHIVE = (
    "--basis", "public-task", "-j", "GB", "--purpose", "press archive", "--retention-days", "365",
)  # fmt: skip


class Cli:
    """The ``facelens`` command on one data folder: ``cli("stats")`` returns what it printed
    (stdout and stderr) and checks the exit code; ``cli.json(...)`` parses ``--json`` output."""

    def __init__(self, data: Path, env: dict[str, str] | None = None) -> None:
        self.data = data
        self.env = env

    def invoke(self, *args: str | Path, env: dict[str, str] | None = None) -> Result:
        argv = [str(a) for a in args] + ["--data", str(self.data)]
        return CliRunner().invoke(app, argv, env={**(self.env or {}), **(env or {})})

    def __call__(self, *args: str | Path, code: int = 0, env: dict[str, str] | None = None) -> str:
        result = self.invoke(*args, env=env)
        assert result.exit_code == code, (result.exit_code, result.output, result.exception)
        return result.output

    def json(self, *args: str | Path, code: int = 0, env: dict[str, str] | None = None) -> Any:
        result = self.invoke(*args, "--json", env=env)
        assert result.exit_code == code, (result.exit_code, result.output, result.exception)
        return json.loads(result.stdout)


@pytest.fixture(scope="session", autouse=True)
def template_key_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One template key for the session, outside every data folder (as it must be), so that
    tests never touch ~/.config and data folders copied between tests stay readable."""
    path = tmp_path_factory.mktemp("keys") / "template.key"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FACELENS_TEMPLATE_KEY_FILE", str(path))
        # Each data folder's own keys (its audit key, a rotated template key), also apart.
        patch.setenv("FACELENS_KEY_DIR", str(tmp_path_factory.mktemp("folder-keys")))
        yield path


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


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for the session (``tests/postgres_server.py``), with a
    migrated template database that each test's database is copied from."""
    with postgres_server() as server:
        engine = create_engine(server.create_database(PG_TEMPLATE))
        migrate(engine)
        engine.dispose()
        yield server


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> Iterator[str]:
    """The URL of a new database holding the migrated, empty schema, dropped after the test."""
    name = f"test_{next(_databases)}"
    yield postgres.create_database(name, template=PG_TEMPLATE)
    postgres.drop_database(name)
