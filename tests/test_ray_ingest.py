"""Ingest analysed on a real Ray cluster gives what local ingest gives, and resumes as it does.

The cluster is two nodes on 127.0.0.1, started as an operator would start them: a head by
``ray start --head --port <free port>`` and a worker node by ``ray start --address``, one CPU
each (this machine has two), so that the two detection actors run on different nodes. The
nodes run with ``RAY_AUTH_MODE=disabled`` (they listen on 127.0.0.1 only): Ray reads the mode
once a process, when it is first imported, so this process (which may have imported Ray
already) could not be given a token afterwards; README says how to run with tokens. Each
``ray start --block`` runs in a session of its own, and is stopped by its process group at
the end (never ``ray stop``, which would stop every Ray on the machine).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import ray

from facelens.config import Settings
from facelens.distributed.options import RayOptions
from facelens.distributed.ray_ingest import connected
from facelens.engine import Engine
from facelens.pipeline.analyse import FacePipeline
from tests.conftest import TEST_POLICY, Cli, Declare

ROOT = Path(__file__).resolve().parents[1]
RAY = Path(sys.executable).parent / "ray"
COLLECTION = "archive"

#: Per image (by sha256): its location, size, and each accepted face's box and embedding.
Snapshot = dict[str, tuple[str, int, int, list[tuple[tuple[int, int, int, int], np.ndarray]]]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start(*args: str, temp_dir: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "disabled",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    return subprocess.Popen(
        [str(RAY), "start", *args, "--num-cpus", "1", "--node-ip-address", "127.0.0.1"]
        + ["--object-store-memory", str(200 * 2**20), "--disable-usage-stats", "--block"]
        + (["--temp-dir", temp_dir] if "--head" in args else []),
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """``ray start --block`` stops its node's processes on SIGTERM (about 2 s, but a head that
    has had a driver can linger); then its process group, the node's processes, is stopped."""
    process.terminate()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            process.wait(5)
            return
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
    process.wait(10)


def _nodes(address: str) -> int:
    """Alive nodes of the cluster, asked from a process of its own (the tests' process stays
    unconnected until an ingest connects it)."""
    probe = (
        f"import ray; ray.init(address={address!r}, logging_level='ERROR');"
        "print(sum(n['Alive'] for n in ray.nodes()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = done.stdout.split()
    return int(lines[-1]) if done.returncode == 0 and lines else 0


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """``HOST:PORT`` of a head and one worker node, on 127.0.0.1."""
    port = _free_port()
    address = f"127.0.0.1:{port}"
    # Short: Ray's socket paths live under it, and a socket path is at most 107 bytes.
    temp_dir = tempfile.mkdtemp(prefix="ray-fl-", dir="/tmp")
    head = ("--head", "--port", str(port), "--include-dashboard=false")
    started = [_start(*head, temp_dir=temp_dir)]
    try:
        deadline = time.monotonic() + 60
        while _nodes(address) < 1:
            assert time.monotonic() < deadline, "the Ray head did not start"
            time.sleep(1)
        started.append(_start("--address", address, temp_dir=temp_dir))
        while _nodes(address) < 2:
            assert time.monotonic() < deadline, "the Ray worker node did not join"
            time.sleep(1)
        yield address
    finally:
        for process in reversed(started):
            _stop(process)
        shutil.rmtree(temp_dir, ignore_errors=True)  # the nodes' sessions and logs


def snapshot(data: Path, pipeline: FacePipeline) -> Snapshot:
    with Engine(Settings(data_dir=data), pipeline=pipeline) as engine:
        images = engine.store.images(COLLECTION, limit=1000)
        found: Snapshot = {}
        for image in images:
            records = engine.store.face_records(image.face_ids)
            vectors = {
                int(i): v
                for ids, batch in engine.store.embeddings(engine.model, face_ids=image.face_ids)
                for i, v in zip(ids, batch, strict=True)
            }
            faces = []
            for face_id in image.face_ids:
                box = records[face_id].box
                faces.append(((box.x1, box.y1, box.x2, box.y2), vectors[face_id]))
            found[image.sha256] = (image.location, image.width, image.height, faces)
        assert engine.index.count() == sum(len(i.face_ids) for i in images)
    return found


def assert_same(ours: Snapshot, reference: Snapshot) -> None:
    assert sorted(ours) == sorted(reference)
    for sha256, (location, width, height, faces) in reference.items():
        got = ours[sha256]
        assert got[:3] == (location, width, height)
        assert [box for box, _ in got[3]] == [box for box, _ in faces]
        for (_, vector), (_, expected) in zip(got[3], faces, strict=True):
            np.testing.assert_allclose(vector, expected, atol=1e-5)


def new_folder(path: Path, pipeline: FacePipeline, declare: Declare) -> Path:
    with Engine(Settings(data_dir=path), pipeline=pipeline) as engine:
        declare(engine, COLLECTION)
    return path


@pytest.fixture(scope="module")
def local(
    tmp_path_factory: pytest.TempPathFactory, photos: Path, pipeline: FacePipeline
) -> Snapshot:
    """The sample photos ingested locally (one worker: the Ray nodes have the cores)."""
    data = tmp_path_factory.mktemp("local") / "data"
    with Engine(Settings(data_dir=data), pipeline=pipeline) as engine:
        engine.create_collection(COLLECTION, TEST_POLICY)
        report = engine.ingest([photos], COLLECTION, workers=1)
    assert report.images_ingested == len(list(photos.iterdir())) and not report.failures
    return snapshot(data, pipeline)


def test_given_nodes_started_elsewhere_then_their_workers_import_the_drivers_facelens(
    ray_cluster: str,
) -> None:
    def where() -> str:
        import facelens

        return str(Path(facelens.__file__).resolve())

    with connected(RayOptions(ray_cluster)):
        found = ray.get(ray.remote(where).remote())
    assert found == str(ROOT / "facelens" / "__init__.py")


def test_given_a_ray_cluster_when_the_cli_ingests_on_it_then_faces_match_local_ingest(
    ray_cluster: str,
    local: Snapshot,
    photos: Path,
    pipeline: FacePipeline,
    declare: Declare,
    tmp_path: Path,
) -> None:
    cli = Cli(new_folder(tmp_path / "data", pipeline, declare))
    ray_args = ("--ray", ray_cluster, "--ray-actors", "2")
    report = cli.json("ingest", photos, "-c", COLLECTION, *ray_args)
    assert report["images_ingested"] == len(local) and report["failures"] == []
    assert_same(snapshot(cli.data, pipeline), local)

    again = cli.json("ingest", photos, "-c", COLLECTION, *ray_args)
    assert again["images_ingested"] == 0 and again["duplicates_skipped"] == len(local)
    assert_same(snapshot(cli.data, pipeline), local)


class Interrupted(Exception):
    """Raised from the progress callback: the run stops as if killed between two images."""


def test_given_an_interrupted_ray_ingest_when_run_again_then_it_resumes_to_the_same_state(
    ray_cluster: str,
    local: Snapshot,
    photos: Path,
    pipeline: FacePipeline,
    declare: Declare,
    tmp_path: Path,
) -> None:
    data = new_folder(tmp_path / "data", pipeline, declare)
    options = RayOptions(ray_cluster, actors=2, images_per_task=1)

    def stop_after_two(done: int, total: int) -> None:
        if done == 2:
            raise Interrupted

    with Engine(Settings(data_dir=data), pipeline=pipeline) as engine, pytest.raises(Interrupted):
        engine.ingest([photos], COLLECTION, ray=options, progress=stop_after_two)
    partial = snapshot(data, pipeline)
    assert 1 <= len(partial) < len(local)
    assert_same(partial, {k: v for k, v in local.items() if k in partial})

    with Engine(Settings(data_dir=data), pipeline=pipeline) as engine:
        report = engine.ingest([photos], COLLECTION, ray=options)
    assert report.duplicates_skipped == len(partial)
    assert report.images_ingested == len(local) - len(partial)
    assert_same(snapshot(data, pipeline), local)
