"""Latency of ``POST /searches`` against a running ``facelens serve``, for a single-face photo of
about one megapixel.

    .venv/bin/python bench/api_search.py --out bench/results/api-search.json

Starts ``facelens serve`` on a new data folder in a subprocess, makes an enroller and an
analyst account, uploads the gallery (the ``face_recognition`` sample photos other than the
probe), then sends ``--searches`` searches of ``obama.jpg`` (910 x 1137 pixels, 1.03 MP, one
face) one at a time over HTTP, as a client would, and reports the median and p99 of the
round trip. Default settings: HOG detection with one upsampling, flip-averaged embeddings.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from facelens.config import Settings
from facelens.privacy.policy import CollectionPolicy, LegalBasis
from facelens.samples import sample_photos
from facelens.security.accounts import Role, create_account
from facelens.security.crypto import TemplateCipher, generate_key
from facelens.store import create_store

PROBE = "obama.jpg"
GALLERY = ("obama2.jpg", "obama3.jpg", "biden.jpg")


def wait_until_ready(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server at {url} did not become ready in {timeout_s} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--searches", type=int, default=50)
    parser.add_argument("--port", type=int, default=8799)
    args = parser.parse_args()

    photos = sample_photos()
    data = Path(tempfile.mkdtemp(prefix="facelens-api-bench-"))
    # Accounts and the collection only (no template yet): any key will do for this store.
    store = create_store(Settings(data_dir=data), TemplateCipher(generate_key()))
    store.create_collection(
        "bench",
        CollectionPolicy(
            LegalBasis.OTHER, ["US"], "latency benchmark", 1, "benchmark on public sample photos"
        ),
    )
    keys = {
        role: {"X-API-Key": create_account(store, f"bench-{role}", role)[1]}
        for role in (Role.ENROLLER, Role.ANALYST)
    }
    store.close()
    url = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(
        [Path(sys.executable).parent / "facelens", "serve", "--port", str(args.port),
         "--data", str(data)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until_ready(url)
        with httpx.Client(base_url=url, timeout=60) as client:
            files = [("files", (n, (photos / n).read_bytes(), "image/jpeg")) for n in GALLERY]
            ingested = client.post(
                "/collections/bench/images", headers=keys[Role.ENROLLER], files=files
            )
            ingested.raise_for_status()
            probe = (photos / PROBE).read_bytes()
            form = {"purpose": "latency benchmark", "case_ref": "BENCH"}
            times, top = [], []
            for _ in range(args.searches + 1):  # the first warms up
                started = time.perf_counter()
                response = client.post(
                    "/searches",
                    headers=keys[Role.ANALYST],
                    files={"image": (PROBE, probe, "image/jpeg")},
                    data=form,
                )
                times.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                top.append(response.json()["faces"][0]["matches"][0]["image_location"])
    finally:
        server.terminate()
        server.wait(timeout=30)
    measured = times[1:]
    # An upload's location is its file name (older versions stored it under its sha256).
    mates = {
        name
        for n in GALLERY
        if "obama" in n
        for name in (Path(n).stem, hashlib.sha256((photos / n).read_bytes()).hexdigest())
    }
    top = [Path(t).stem for t in top]
    result = {
        "command": " ".join(["python", *sys.argv]),
        "probe": {"photo": PROBE, "width": 910, "height": 1137, "faces": 1},
        "gallery_faces": ingested.json()["faces_indexed"],
        "searches": len(measured),
        "latency_ms_p50": round(statistics.median(measured), 1),
        "latency_ms_p99": round(float(np.percentile(measured, 99)), 1),
        "latency_ms_min": round(min(measured), 1),
        "top_match_is_another_photo_of_the_probe_person": sum(t in mates for t in top) / len(top),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(
        f"POST /searches, {PROBE} (1.03 MP, one face), {len(measured)} searches one at a time: "
        f"p50 {result['latency_ms_p50']} ms, p99 {result['latency_ms_p99']} ms"
    )


if __name__ == "__main__":
    main()
