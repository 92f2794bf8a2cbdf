"""The engine end to end on a large data folder: open time, ``facelens search`` wall time,
``facelens serve`` start-up, and API search latency with and without a collection filter.

    .venv/bin/python bench/engine_scale.py --data /tmp/facelens-scale --faces 10000000 \\
        --gallery /tmp/facelens-gallery --out bench/results/engine-scale.json

Fill. A new data folder (``--data``, refused if it exists) is filled through the store's bulk
path (``add_images``, 5,000 single-face images a transaction), with the embeddings of
``--gallery`` (the folder ``bench/gallery.py`` writes: real LFW faces first, then its
synthetic distractors) or, without one, seeded random unit vectors (a smoke run: say so when
quoting). The last
``--collection-faces`` rows go to the collection ``small``, the rest to ``bulk``; then the
probe photo ``--photo`` (default: the ``face_recognition`` sample ``obama.jpg``, 1.03 MP, one
face) is ingested into ``small`` by the real pipeline, and the index is built from the store.

Measure, each a median of ``--repeats``:
- open: ``Engine(settings)`` then close, in this process (the models loaded once before);
- CLI: ``facelens search PHOTO`` in a new process, wall time including start-up;
- serve: ``facelens serve`` started until ``/readyz`` answers 200;
- API: ``--searches`` ``POST /searches`` of the photo one at a time, p50 and p99, without a
  filter and with ``collections=small``.

``--measure-only`` measures a folder an earlier run filled (after a change to the code, say),
with a new analyst account; the fill figures are then absent.

``--store-url postgresql+psycopg://...`` puts the store on a PostgreSQL server (an empty
database) instead of SQLite in the data folder; ``--throwaway-postgres`` on a server started
for the run and removed after it (``tests/postgres_server.py``: PostgreSQL 15 from Debian's
packages, ``scripts/install-postgres.sh``, on 127.0.0.1 with durability off, as in the tests).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.api_search import wait_until_ready
from facelens.config import Settings
from facelens.engine import Engine
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.embed.base import l2_normalise
from facelens.privacy.policy import CollectionPolicy, LegalBasis
from facelens.samples import sample_photos
from facelens.security.accounts import Role, create_account
from facelens.store import NewImage
from facelens.types import (
    AnalysedFace,
    Box,
    Detection,
    Embedding,
    FaceQuality,
    ImageAnalysis,
    ModelId,
    Provenance,
)

POLICY = CollectionPolicy(LegalBasis.OTHER, ["US"], "scale benchmark", 30, "benchmark data")
BATCH = 5000  # images a transaction of the store's bulk path
WHY = {"purpose": "scale benchmark", "case_ref": "BENCH-SCALE"}
FACELENS = Path(sys.executable).parent / "facelens"


def embeddings(gallery: Path | None, faces: int, dim: int, seed: int) -> np.ndarray:
    if gallery is not None:
        rows = np.load(gallery / "gallery.npy", mmap_mode="r")
        if len(rows) < faces:
            raise SystemExit(f"{gallery} holds {len(rows)} faces, fewer than --faces {faces}")
        return np.asarray(rows[:faces])
    rng = np.random.default_rng(seed)
    return l2_normalise(rng.standard_normal((faces, dim)).astype(np.float32))


def one_face(vector: np.ndarray, model: ModelId) -> ImageAnalysis:
    face = AnalysedFace(
        detection=Detection(Box(10, 10, 110, 110), 1.0, "benchmark"),
        landmarks=np.zeros((5, 2), dtype=np.float32),
        quality=FaceQuality(100, 100.0, None),
        embedding=Embedding(np.asarray(vector, dtype=np.float32), model),
    )
    return ImageAnalysis(width=120, height=120, faces=[face])


def fill(settings: Settings, pipeline: FacePipeline, args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    with Engine(settings, pipeline=pipeline) as engine:
        for name in ("bulk", "small"):
            engine.create_collection(name, POLICY)
        rows = embeddings(args.gallery, args.faces, engine.model.dim, args.seed)
        small_from = args.faces - args.collection_faces
        for start in range(0, args.faces, BATCH):
            stop = min(start + BATCH, args.faces)
            for name, lo, hi in (("bulk", start, min(stop, small_from)),
                                 ("small", max(start, small_from), stop)):  # fmt: skip
                if lo < hi:
                    engine.store.add_images(name, [
                        NewImage(f"/bench/{row}.jpg", f"{row:064x}",
                                 one_face(rows[row], engine.model), Provenance())
                        for row in range(lo, hi)
                    ])  # fmt: skip
        filled_s = time.perf_counter() - started
        engine.ingest([args.photo], "small", workers=1)
        built = time.perf_counter()
        indexed = engine.rebuild_index()
        build_s = time.perf_counter() - built
        keys = {role: create_account(engine.store, f"bench-{role}", role)[1]
                for role in (Role.ANALYST,)}  # fmt: skip
    return {"store_fill_s": round(filled_s, 1), "index_build_s": round(build_s, 1),
            "faces_indexed": indexed, "analyst_key": keys[Role.ANALYST]}  # fmt: skip


def existing(settings: Settings, pipeline: FacePipeline) -> dict[str, Any]:
    """What ``fill`` reports, of a folder it filled before: no fill figures."""
    with Engine(settings, pipeline=pipeline) as engine:
        small = engine.store.face_ids_in_collections(["small"], engine.model)
        name = f"bench-analyst-{time.time_ns()}"
        return {"faces_indexed": engine.index.count(), "collection_faces": len(small),
                "analyst_key": create_account(engine.store, name, Role.ANALYST)[1]}  # fmt: skip


def open_times(settings: Settings, pipeline: FacePipeline, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        with Engine(settings, pipeline=pipeline) as engine:
            times.append(time.perf_counter() - started)
            assert engine.last_repair.added == engine.last_repair.removed == 0
    return times


def cli_times(data: Path, photo: Path, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(
            [FACELENS, "search", str(photo), "--data", str(data), "--top-k", "10",
             "--purpose", WHY["purpose"], "--case-ref", WHY["case_ref"]],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        times.append(time.perf_counter() - started)
    return times


def api(data: Path, photo: Path, key: str, args: argparse.Namespace) -> dict[str, Any]:
    url = f"http://127.0.0.1:{args.port}"
    startups: list[float] = []
    latencies: dict[str, list[float]] = {"plain": [], "filtered": []}
    probe = photo.read_bytes()
    for attempt in range(args.repeats):
        started = time.perf_counter()
        server = subprocess.Popen(
            [FACELENS, "serve", "--port", str(args.port), "--data", str(data)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_until_ready(url, timeout_s=600)
            startups.append(time.perf_counter() - started)
            if attempt:
                continue  # latency once: the start-ups are what repeat
            with httpx.Client(base_url=url, timeout=120, headers={"X-API-Key": key}) as client:
                for kind, extra in (("plain", {}), ("filtered", {"collections": "small"})):
                    for n in range(args.searches + 1):  # the first warms up
                        began = time.perf_counter()
                        image = {"image": (photo.name, probe, "image/jpeg")}
                        answer = client.post("/searches", data=WHY | extra, files=image)
                        answer.raise_for_status()
                        if n:
                            latencies[kind].append((time.perf_counter() - began) * 1000)
        finally:
            server.terminate()
            server.wait(timeout=60)
    return {"serve_startup_s": startups, "latency_ms": latencies}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="new data folder to fill")
    parser.add_argument("--faces", type=int, required=True, help="faces to store")
    parser.add_argument("--gallery", type=Path, help="bench/gallery.py's output folder")
    parser.add_argument("--collection-faces", type=int, default=20_000)
    parser.add_argument("--photo", type=Path, default=sample_photos() / "obama.jpg")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--searches", type=int, default=30)
    parser.add_argument("--port", type=int, default=8797)
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--measure-only", action="store_true", help="measure a filled --data")
    parser.add_argument("--store-url", help="a PostgreSQL store (default: SQLite in --data)")
    parser.add_argument("--throwaway-postgres", action="store_true", help="a new PostgreSQL")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    args = parser.parse_args()
    if args.throwaway_postgres and (args.store_url or args.measure_only):
        raise SystemExit("--throwaway-postgres fills a new server: not with --store-url or "
                         "--measure-only")  # fmt: skip
    with ExitStack() as stack:
        if args.throwaway_postgres:
            from tests.postgres_server import postgres_server

            args.store_url = stack.enter_context(postgres_server()).create_database("scale")
        measure(args)


def measure(args: argparse.Namespace) -> None:
    if args.store_url:  # read by Settings here and by the CLI and server started below
        os.environ["FACELENS_STORE_URL"] = args.store_url
    if args.data.exists() and not args.measure_only:
        raise SystemExit(f"{args.data} exists: give a new folder (or --measure-only)")
    if args.measure_only and not args.data.exists():
        raise SystemExit(f"{args.data} does not exist: fill it first, without --measure-only")
    # The benchmark folder's keys beside it, never in the user's key folder.
    os.environ["FACELENS_KEY_DIR"] = str(args.data.with_name(args.data.name + "-keys"))
    settings = Settings(data_dir=args.data)
    pipeline = FacePipeline(settings)
    filled = existing(settings, pipeline) if args.measure_only else fill(settings, pipeline, args)
    key = filled.pop("analyst_key")
    opens = open_times(settings, pipeline, args.repeats)
    cli = cli_times(args.data, args.photo, args.repeats)
    served = api(args.data, args.photo, key, args)
    p = served["latency_ms"]
    source = "bench/gallery.py (LFW + distractors)" if args.gallery else "random"
    if args.measure_only:
        source = "as filled before"
    result = {
        "command": " ".join(["python", *sys.argv]),
        "faces": filled["faces_indexed"],
        "embeddings": source,
        "store": "postgresql" if args.store_url else "sqlite",
        "collection_faces": args.collection_faces + 1,
        **filled,  # (measured, with --measure-only)
        "open_s_median": round(statistics.median(opens), 3),
        "cli_search_s_median": round(statistics.median(cli), 2),
        "serve_startup_s_median": round(statistics.median(served["serve_startup_s"]), 2),
        **{
            f"api_{kind}_ms_{q}": round(float(np.percentile(v, pct)), 1)
            for kind, v in p.items()
            for q, pct in (("p50", 50), ("p99", 99))
        },
        "filtered_over_plain_p50": round(
            float(np.median(p["filtered"]) / np.median(p["plain"])), 3
        ),
        "raw": {"open_s": opens, "cli_s": cli, **served},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(
        f"{result['faces']:,} faces ({result['embeddings']}): open {result['open_s_median']} s, "
        f"facelens search {result['cli_search_s_median']} s, serve ready in "
        f"{result['serve_startup_s_median']} s, API p50/p99 {result['api_plain_ms_p50']}/"
        f"{result['api_plain_ms_p99']} ms, within {result['collection_faces']:,} faces "
        f"{result['api_filtered_ms_p50']}/{result['api_filtered_ms_p99']} ms"
    )


if __name__ == "__main__":
    main()
