"""Throughput and latency of ``POST /searches`` under concurrent clients, and how long
``/healthz`` takes meanwhile, over loopback only.

    .venv/bin/python bench/load.py --out bench/results/load.json

Starts ``facelens serve`` on a new data folder in a subprocess (with the ``facelens`` found on
``PYTHONPATH``, so the same script measures another checkout), makes an enroller and an
analyst account, uploads the gallery (the ``face_recognition`` sample photos other than the
probe); or, with ``--url`` and ``--analyst-key``, uses a server already running on 127.0.0.1.
Then, for each ``--clients`` count (16 and 32 by default), that many clients each send
``--searches`` searches of ``obama.jpg`` (910 x 1137 pixels, 1.03 MP, one face) back to back
while one more client polls ``/healthz``. Bounded: a fixed number of requests, each round
stopped after ``--max-seconds`` whatever is left, and nothing but 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import numpy as np

from facelens.config import Settings
from facelens.privacy.policy import CollectionPolicy, LegalBasis
from facelens.samples import sample_photos
from facelens.security.accounts import Role, create_account
from facelens.security.crypto import TemplateCipher, generate_key

PROBE = "obama.jpg"
GALLERY = ("obama2.jpg", "obama3.jpg", "biden.jpg")
FORM = {"purpose": "load benchmark", "case_ref": "BENCH-LOAD"}
LOOPBACK = {"127.0.0.1", "localhost"}


def wait_until_ready(url: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server at {url} did not become ready in {timeout_s} s")


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1) if values else float("nan")


def start_server(port: int) -> tuple[subprocess.Popen[bytes], dict[str, str], list[Path]]:
    """``facelens serve`` on a new data folder with the gallery's collection and two keys."""
    from facelens.store import create_store

    data = Path(tempfile.mkdtemp(prefix="facelens-load-bench-"))
    # Accounts and the collection only (no template yet): any key will do for this store.
    store = create_store(Settings(data_dir=data), TemplateCipher(generate_key()))
    store.create_collection(
        "bench",
        CollectionPolicy(
            LegalBasis.OTHER, ["US"], "load benchmark", 1, "benchmark on public sample photos"
        ),
    )
    keys = {
        role.value: create_account(store, f"bench-{role}", role)[1]
        for role in (Role.ENROLLER, Role.ANALYST)
    }
    store.close()
    # The per-key budget is not what is measured here.
    # Its keys apart from the data, and removed with it (never in ~/.config).
    key_dir = Path(tempfile.mkdtemp(prefix="facelens-load-keys-"))
    env = {
        **os.environ,
        "FACELENS_RATE_LIMIT_PER_MINUTE": "1000000",
        "FACELENS_KEY_DIR": str(key_dir),
    }
    serve = "from facelens.cli.main import app; app()"
    server = subprocess.Popen(
        [sys.executable, "-c", serve, "serve", "--port", str(port), "--data", str(data)],
        stdout=subprocess.DEVNULL,
        env=env,
    )
    return server, keys, [data, key_dir]


def run_round(url: str, key: str, probe: bytes, clients: int, searches: int, max_s: float) -> Any:
    """``clients`` threads, ``searches`` each, and one /healthz poller; stops by itself."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    health: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    done = threading.Event()
    deadline = time.monotonic() + max_s

    def searcher() -> None:
        with httpx.Client(base_url=url, timeout=max_s) as client:
            start.wait()
            for _ in range(searches):
                if time.monotonic() > deadline:
                    break
                began = time.perf_counter()
                try:
                    response = client.post(
                        "/searches",
                        headers={"X-API-Key": key},
                        files={"image": (PROBE, probe, "image/jpeg")},
                        data=FORM,
                    )
                    status = str(response.status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                took = (time.perf_counter() - began) * 1000
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == "200":
                        latencies.append(took)

    def poller() -> None:
        with httpx.Client(base_url=url, timeout=max_s) as client:
            while not done.is_set() and time.monotonic() < deadline:
                began = time.perf_counter()
                client.get("/healthz").raise_for_status()
                health.append((time.perf_counter() - began) * 1000)
                time.sleep(0.05)

    threads = [threading.Thread(target=searcher) for _ in range(clients)]
    for thread in threads:
        thread.start()
    watching = threading.Thread(target=poller)
    watching.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall_s = time.perf_counter() - began
    done.set()
    watching.join()
    return {
        "clients": clients,
        "searches_per_client": searches,
        "statuses": statuses,
        "searches_ok": len(latencies),
        "wall_s": round(wall_s, 2),
        "searches_per_s": round(len(latencies) / wall_s, 2),
        "search_ms_p50": percentile(latencies, 50),
        "search_ms_p99": percentile(latencies, 99),
        "healthz_polls": len(health),
        "healthz_ms_p50": percentile(health, 50),
        "healthz_ms_p99": percentile(health, 99),
        "healthz_ms_max": round(max(health), 1) if health else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--clients", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--searches", type=int, default=5, help="Searches per client.")
    parser.add_argument("--max-seconds", type=float, default=180, help="Per round, at most.")
    parser.add_argument("--port", type=int, default=8798)
    parser.add_argument("--url", help="A server already running on 127.0.0.1 (then give keys).")
    parser.add_argument("--analyst-key")
    parser.add_argument("--enroller-key", help="With --url: upload the gallery first.")
    parser.add_argument("--label", default="", help="Recorded in the JSON (e.g. the commit).")
    args = parser.parse_args()
    if not 1 <= max(args.clients) <= 256 or not 1 <= args.searches <= 100:
        raise SystemExit("--clients must be 1 to 256 and --searches 1 to 100 (a bounded bench)")

    photos = sample_photos()
    server: subprocess.Popen[bytes] | None = None
    folders: list[Path] = []
    if args.url:
        if urlparse(args.url).hostname not in LOOPBACK or not args.analyst_key:
            raise SystemExit("--url must be on 127.0.0.1 (loopback only), with --analyst-key")
        url, keys = args.url.rstrip("/"), {"analyst": args.analyst_key}
        if args.enroller_key:
            keys["enroller"] = args.enroller_key
    else:
        server, keys, folders = start_server(args.port)
        url = f"http://127.0.0.1:{args.port}"
    try:
        wait_until_ready(url)
        if "enroller" in keys:
            files = [("files", (n, (photos / n).read_bytes(), "image/jpeg")) for n in GALLERY]
            httpx.post(
                f"{url}/collections/bench/images",
                headers={"X-API-Key": keys["enroller"]},
                files=files,
                timeout=120,
            ).raise_for_status()
        probe = (photos / PROBE).read_bytes()
        # Warm up: models load on first use (in each pipeline the server makes).
        run_round(url, keys["analyst"], probe, 2, 1, args.max_seconds)
        rounds = [
            run_round(url, keys["analyst"], probe, n, args.searches, args.max_seconds)
            for n in args.clients
        ]
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=60)
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
    result = {
        "command": " ".join(["python", *sys.argv]),
        "label": args.label,
        "probe": {"photo": PROBE, "width": 910, "height": 1137, "faces": 1},
        "rounds": rounds,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    for r in rounds:
        print(
            f"{r['clients']:>3} clients: {r['searches_per_s']} searches/s, search p50 "
            f"{r['search_ms_p50']} ms, p99 {r['search_ms_p99']} ms; /healthz p50 "
            f"{r['healthz_ms_p50']} ms, p99 {r['healthz_ms_p99']} ms ({r['statuses']})"
        )


if __name__ == "__main__":
    main()
