"""What sealing templates (AES-256-GCM at rest) costs ingest, measured in one process.

    .venv/bin/python bench/seal.py --lfw ../shared/datasets/lfw --images 60 \\
        --out bench/results/ingest-sealed.json

Ingest seals each accepted face twice: its store row and its row in the index's vector file.
This runs the real pipeline (decode, detect, align, quality, embed) on ``--images`` LFW photos
and times it per face, then times the two seals of each of the faces it found, both in this
process, ``--repeats`` times; medians. The ratio is ingest time a face with sealing over
without. It also times sealing the identifying data a face brings (migration 0006): its
landmarks, a person's name with its blind index, and its image's location with its blind
index (the most a face costs: a collection with ``seal_locations``, every face named).
(Search: ``bench/search.py --sealed``.)
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
from facelens.index.vector_file import ROW_AAD
from facelens.pipeline.analyse import FacePipeline
from facelens.security.crypto import TemplateCipher, generate_key, normalise_name, row_aad


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

    identifying_us = []
    first = pipeline.analyse(images[0]).faces[0].landmarks
    landmarks = [json.dumps(np.round(first, 2).tolist(), separators=(",", ":"))]
    location = str(paths[0].resolve())
    for _ in range(args.repeats):
        started = time.perf_counter()
        for _ in range(rounds):
            for face_id in range(len(batch)):
                cipher.seal_text(landmarks[0], row_aad("face-landmarks", face_id))
                name = "Firstname Lastname"
                cipher.blind_index("person-name", normalise_name(name))
                cipher.seal_text(name, row_aad("person-name", face_id))
                cipher.blind_index("image-location", location)
                cipher.seal_text(location, row_aad("image-location", face_id))
        identifying_us.append((time.perf_counter() - started) * 1e6 / (rounds * len(batch)))

    analyse = statistics.median(analyse_ms)
    seal = statistics.median(seal_us)
    identifying = statistics.median(identifying_us)
    result = {
        "command": "python " + " ".join(sys.argv),
        "images": len(paths),
        "faces": len(vectors),
        "repeats": args.repeats,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "analyse_ms_per_face": round(analyse, 2),
        "seal_us_per_face": round(seal, 2),
        "ingest_sealed_over_plain": round((analyse + seal / 1000) / analyse, 6),
        "seal_identifying_us_per_face": round(identifying, 2),
        "ingest_all_sealed_over_plain": round((analyse + (seal + identifying) / 1000) / analyse, 6),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{len(paths)} LFW images, {len(vectors)} faces, median of {args.repeats}:\n"
        f"pipeline (decode excluded) {analyse:.2f} ms a face; sealing its two rows "
        f"{seal:.2f} us a face; ingest sealed/plain {result['ingest_sealed_over_plain']}\n"
        f"sealing landmarks, name and location (with blind indexes) {identifying:.2f} us a face; "
        f"ingest all sealed/plain {result['ingest_all_sealed_over_plain']}"
    )


if __name__ == "__main__":
    main()
