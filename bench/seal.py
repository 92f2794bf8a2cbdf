"""What sealing templates (AES-256-GCM at rest) costs ingest, measured in one process.

    .venv/bin/python bench/seal.py --lfw ../shared/datasets/lfw --images 60 \\
        --out bench/results/ingest-sealed.json

Ingest seals each accepted face twice: its store row and its row in the index's vector file.
This runs the real pipeline (decode, detect, align, quality, embed) on ``--images`` LFW photos
and times it per face, then times the two seals of each of the faces it found, both in this
process, ``--repeats`` times; medians. The ratio is ingest time a face with sealing over
without. (Search: ``bench/search.py --sealed``.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from facelens.config import Settings
from facelens.crypto import TemplateCipher, generate_key
from facelens.index.vector_file import ROW_AAD
from facelens.pipeline import FacePipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=Path, required=True, help="the LFW folder (images/)")
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    args = parser.parse_args()

    paths = sorted((args.lfw / "images").rglob("*.jpg"))[: args.images]
    if len(paths) < args.images:
        raise SystemExit(f"found {len(paths)} images under {args.lfw / 'images'}")
    pipeline = FacePipeline(Settings())
    images = [pipeline.load(p) for p in paths]
    pipeline.analyse(images[0])  # warm up

    analyse_ms, vectors = [], []
    for _ in range(args.repeats):
        started = time.perf_counter()
        found = [f.embedding.vector for image in images for f in pipeline.analyse(image).faces
                 if f.embedding is not None]  # fmt: skip
        analyse_ms.append((time.perf_counter() - started) * 1000 / len(found))
        vectors = found

    cipher = TemplateCipher(generate_key())
    batch = np.stack(vectors)
    rounds = max(1, 20_000 // len(batch))
    seal_us = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        for _ in range(rounds):
            for face_id, vector in enumerate(batch):
                cipher.seal_vector(vector)  # the store row
                cipher.seal(vector.astype("<f4").tobytes(), ROW_AAD + face_id.to_bytes(8, "little"))
        seal_us.append((time.perf_counter() - started) * 1e6 / (rounds * len(batch)))

    analyse = statistics.median(analyse_ms)
    seal = statistics.median(seal_us)
    result = {
        "command": "python " + " ".join(sys.argv),
        "images": len(paths),
        "faces": len(vectors),
        "repeats": args.repeats,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "analyse_ms_per_face": round(analyse, 2),
        "seal_us_per_face": round(seal, 2),
        "ingest_sealed_over_plain": round((analyse + seal / 1000) / analyse, 6),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{len(paths)} LFW images, {len(vectors)} faces, median of {args.repeats}:\n"
        f"pipeline (decode excluded) {analyse:.2f} ms a face; sealing its two rows "
        f"{seal:.2f} us a face; ingest sealed/plain {result['ingest_sealed_over_plain']}"
    )


if __name__ == "__main__":
    main()
