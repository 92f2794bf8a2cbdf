"""Issue 12, item 9: a real `facelens ingest` killed (SIGKILL) at random moments, then rerun to
completion, loses nothing and duplicates nothing: every image is in the store once, the index
holds exactly the store's accepted faces, and the counts equal a clean ingest's."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from facelens.config import Settings
from facelens.engine import Engine
from facelens.pipeline.analyse import FacePipeline
from tests.conftest import PRESS_ARCHIVE, Cli

WORKTREE = Path(__file__).resolve().parents[1]
SEED = 12
KILLS = 6
MAX_RUNS = 12  # kills that come after the run finished do not count; stop trying after this
COPIES = 2


def facelens_command() -> list[str]:
    script = Path(sys.executable).with_name("facelens")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "facelens.cli.main"]


def ingest_command(photos: Path, data: Path) -> list[str]:
    ingest = ["ingest", str(photos), "-c", "press", "--workers", "1"]
    return [*facelens_command(), *ingest, "--data", str(data), "--json"]


@pytest.fixture(scope="module")
def many_photos(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample photos under several names, each copy a byte longer: distinct files."""
    folder = tmp_path_factory.mktemp("crash-photos")
    for copy in range(COPIES):
        for photo in sorted(photos.glob("*.jpg")):
            (folder / f"{photo.stem}-{copy}.jpg").write_bytes(photo.read_bytes() + bytes(copy))
    return folder


def new_folder(data: Path) -> None:
    Cli(data)("collection", "create", "press", *PRESS_ARCHIVE)


def images_stored(data: Path) -> int:
    with sqlite3.connect(f"file:{data / 'facelens.db'}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT count(*) FROM images").fetchone()[0])


def figures(data: Path, pipeline: FacePipeline) -> tuple[int, int, int, np.ndarray, np.ndarray]:
    with Engine(Settings(data_dir=data), pipeline=pipeline) as engine:
        counts = engine.store.counts()
        hashes = engine.store.known_image_hashes("press")
        stored = engine.store.indexed_face_ids(engine.model)
        indexed = np.sort(engine.index.ids())
    assert len(hashes) == counts.images  # every image once
    return counts.images, counts.faces_accepted, counts.faces_rejected, stored, indexed


def test_given_an_ingest_killed_at_random_moments_then_a_rerun_loses_and_duplicates_nothing(
    many_photos: Path, tmp_path: Path, pipeline: FacePipeline
) -> None:
    env = {**os.environ, "PYTHONPATH": str(WORKTREE)}
    clean = tmp_path / "clean"
    new_folder(clean)
    started = time.monotonic()
    subprocess.run(ingest_command(many_photos, clean), env=env, check=True, capture_output=True)
    clean_s = time.monotonic() - started
    images, accepted, rejected, stored, indexed = figures(clean, pipeline)
    assert images == len(list(many_photos.glob("*.jpg")))
    assert np.array_equal(stored, indexed)

    # How long a run takes to start (models loaded) and then an image: the moment of each
    # kill is drawn over what the run has left to do, so that most runs die before the end.
    started = time.monotonic()
    stats = [*facelens_command(), "stats", "--data", str(clean)]
    subprocess.run(stats, env=env, check=True, capture_output=True)
    startup_s = time.monotonic() - started
    per_image_s = max(clean_s - startup_s, 0.1) / images

    crashed = tmp_path / "crashed"
    new_folder(crashed)
    rng = random.Random(SEED)
    kills = runs = 0
    while kills < KILLS and runs < MAX_RUNS:
        runs += 1
        left = images - images_stored(crashed)
        proc = subprocess.Popen(
            ingest_command(many_photos, crashed),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.1, startup_s + per_image_s * left))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    finished = subprocess.run(
        ingest_command(many_photos, crashed), env=env, capture_output=True, text=True
    )
    assert finished.returncode == 0, finished.stderr
    got_images, got_accepted, got_rejected, got_stored, got_indexed = figures(crashed, pipeline)
    lost = max(images - got_images, 0) + max(accepted - got_accepted, 0)
    duplicated = max(got_images - images, 0) + max(got_accepted - accepted, 0)
    print(
        f"kills survived: {kills}, lost {lost}, duplicated {duplicated} "
        f"({got_images} images, {got_accepted} faces indexed, {got_rejected} rejected; "
        f"clean ingest {clean_s:.1f} s)"
    )
    assert kills >= 3, f"only {kills} of {runs} runs were killed before they finished"
    assert (got_images, got_accepted, got_rejected) == (images, accepted, rejected)
    assert np.array_equal(got_stored, got_indexed)  # index ids == store's accepted face ids
    assert len(got_stored) == accepted
    shutil.rmtree(crashed / "index")  # and the index rebuilt from the store is the same
    assert np.array_equal(figures(crashed, pipeline)[4], got_stored)
