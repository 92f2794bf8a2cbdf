"""The server under concurrent load, over real HTTP: uvicorn in a thread on loopback, on the
real engine and models, with real photos. Health checks must not queue behind searches."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from facelens.api.app import create_app
from facelens.config import Settings
from facelens.pipeline.analyse import FacePipeline
from facelens.security.accounts import Role, create_account
from tests.conftest import TEST_POLICY
from tests.live_server import serving_app

PURPOSE = {"purpose": "load test", "case_ref": "LOAD-1"}
SEARCHERS = 8
SEARCHES_EACH = 3
#: /healthz answers in a few ms when the event loop is free. On the old code, where searches
#: ran on the loop, its median was over 2 s and its p99 about 5 s on 2 cores. Off the loop but
#: with dlib's embedder (which holds the GIL about 180 ms a call) the p99 was 0.1-1 s; with the
#: ONNX embedder it is about 30 ms (bench/load.py). The p99 bound leaves room for a busy CI,
#: where the pool's first search threads also load their own copies of the models (0.5 s seen).
HEALTHZ_P50_S = 0.1
HEALTHZ_P99_S = 1.5


@pytest.fixture
def server(
    tmp_path: Path, pipeline: FacePipeline, photos: Path
) -> Iterator[tuple[str, dict[Role, dict[str, str]]]]:
    settings = Settings(data_dir=tmp_path / "data")
    app = create_app(settings, pipeline)
    with serving_app(app) as url:
        yield url, prepared(app, photos, url)


def prepared(app: FastAPI, photos: Path, url: str) -> dict[Role, dict[str, str]]:
    """A collection with Obama in it, and the keys of an enroller and an analyst."""
    engine = app.state.service.engine
    engine.create_collection("people", TEST_POLICY)
    keys = {
        role: {"X-API-Key": create_account(engine.store, f"{role}-load", role)[1]}
        for role in (Role.ENROLLER, Role.ANALYST)
    }
    files = [("files", (p.name, p.read_bytes(), "image/jpeg")) for p in (photos / "obama.jpg",)]
    stored = httpx.post(
        f"{url}/collections/people/images", headers=keys[Role.ENROLLER], files=files, timeout=60
    )
    assert stored.status_code == 201, stored.text
    return keys


def test_given_concurrent_searches_then_healthz_still_answers_at_once(
    server: tuple[str, dict[Role, dict[str, str]]], photos: Path
) -> None:
    url, keys = server
    probe = (photos / "obama2.jpg").read_bytes()
    statuses: list[int] = []
    done = threading.Event()

    def searcher() -> None:
        with httpx.Client(timeout=120) as client:
            for _ in range(SEARCHES_EACH):
                response = client.post(
                    f"{url}/searches",
                    headers=keys[Role.ANALYST],
                    files={"image": ("obama2.jpg", probe, "image/jpeg")},
                    data=PURPOSE,
                )
                statuses.append(response.status_code)

    health: list[float] = []

    def poller() -> None:
        with httpx.Client(timeout=60) as client:
            while not done.is_set():
                started = time.perf_counter()
                assert client.get(f"{url}/healthz").status_code == 200
                health.append(time.perf_counter() - started)
                time.sleep(0.02)

    threads = [threading.Thread(target=searcher) for _ in range(SEARCHERS)]
    watching = threading.Thread(target=poller)
    watching.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    watching.join()

    assert statuses == [200] * SEARCHERS * SEARCHES_EACH
    p50, p99 = statistics.median(health), statistics.quantiles(health, n=100)[98]
    assert p50 < HEALTHZ_P50_S, f"/healthz p50 {p50:.3f} s, p99 {p99:.3f} s under load"
    assert p99 < HEALTHZ_P99_S, f"/healthz p99 {p99:.3f} s, max {max(health):.3f} s under load"
    assert len(health) >= 10, health
