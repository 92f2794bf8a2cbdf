"""What Ray ingest decides before a cluster is involved: its options, a head that does not
answer, a file changed between hashing and analysis. (The cluster itself:
tests/test_ray_ingest.py, slow.)"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from facelens.config import Settings
from facelens.distributed.options import RayOptions
from facelens.distributed.ray_ingest import prepare_path
from facelens.engine import Engine
from facelens.errors import ClusterUnavailableError
from facelens.ingest_report import IngestFailure
from facelens.pipeline.analyse import FacePipeline
from tests.conftest import Cli, Declare


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # bound and released: nothing listens there


@pytest.mark.parametrize(
    "options", [{"actors": -1}, {"embed_gpus": -0.5}, {"images_per_task": 0}], ids=str
)
def test_given_negative_counts_then_ray_options_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RayOptions("auto", **options)  # type: ignore[arg-type]


def test_given_a_changed_file_then_a_worker_reports_it_and_analyses_nothing(
    photos: Path, pipeline: FacePipeline
) -> None:
    prepared = prepare_path(pipeline, str(photos / "obama.jpg"), "0" * 64)
    assert isinstance(prepared.outcome, IngestFailure)
    assert prepared.outcome.error == "image_changed"


def test_given_no_head_at_the_address_then_ingest_fails_at_once_and_stores_nothing(
    engine: Engine, declare: Declare, photos: Path
) -> None:
    declare(engine, "archive")
    with pytest.raises(ClusterUnavailableError, match="no Ray head answers"):
        engine.ingest([photos], "archive", ray=RayOptions(f"127.0.0.1:{_closed_port()}"))
    assert engine.store.collection_counts("archive") == (0, 0)


def test_given_no_head_then_the_cli_names_the_address_and_exits_7(
    tmp_path: Path, pipeline: FacePipeline, declare: Declare, photos: Path
) -> None:
    cli = Cli(tmp_path / "data")
    with Engine(Settings(data_dir=cli.data), pipeline=pipeline) as engine:
        declare(engine, "archive")
    address = f"127.0.0.1:{_closed_port()}"
    output = cli("ingest", photos / "obama.jpg", "-c", "archive", "--ray", address, code=7)
    assert address in output and "ray start --head" in output
