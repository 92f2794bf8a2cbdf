"""Embedding throughput: the ONNX Runtime embedder by batch size against dlib, on the same chips.

    .venv/bin/python -m bench.embed_throughput --lfw ../shared/datasets/lfw \\
        --out bench/results/embed-throughput.json

Chips: the faces facelens's pipeline finds and aligns in the first LFW images (repeated to
``--chips`` when fewer). For each thread count (1, and every core) a child process is started
with OMP/OpenBLAS/MKL limited to that many threads and ``onnx_intra_op_threads`` set to it; in
that one process it times ``DlibResNetEmbedder.embed`` and ``OnnxResNetEmbedder.embed`` at each
batch size (flip averaging off: one network pass a chip), ``--rounds`` times taking turns, and
writes medians in faces/s and each ONNX figure's ratio to dlib's. Providers other than CPU are
measured when ONNX Runtime offers them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BATCH_SIZES = (1, 8, 32, 128)
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """One child process: every figure at ``args.threads`` threads."""
    import numpy as np
    import onnxruntime as ort

    from facelens.config import Settings
    from facelens.pipeline.analyse import FacePipeline
    from facelens.pipeline.embed.base import Embedder
    from facelens.pipeline.embed.dlib_onnx.cache import converted_model
    from facelens.pipeline.embed.dlib_onnx.embedder import PROVIDERS, OnnxResNetEmbedder
    from facelens.pipeline.embed.dlib_resnet import DlibResNetEmbedder

    pipeline = FacePipeline(Settings())
    folder = args.lfw / "images"
    paths = [p for person in sorted(folder.iterdir()) for p in sorted(person.glob("*.jpg"))]
    chips = []
    for path in paths[: args.chips]:
        image = pipeline.load(path)
        for detection in pipeline.detector.detect(image)[:1]:
            chips.append(pipeline.aligner.align(image, detection.box).chip)
    chips = (chips * (args.chips // max(1, len(chips)) + 1))[: args.chips]

    def rate(embedder: Embedder) -> float:
        started = time.perf_counter()
        embedder.embed(chips)
        return len(chips) / (time.perf_counter() - started)

    with tempfile.TemporaryDirectory() as cache:
        converted_model(Path(cache))
        embedders: dict[str, Embedder] = {"dlib": DlibResNetEmbedder()}
        for provider, name in PROVIDERS.items():
            if name not in ort.get_available_providers():
                continue
            for batch in BATCH_SIZES:
                embedders[f"onnx-{provider}-b{batch}"] = OnnxResNetEmbedder(
                    batch_size=batch,
                    provider=provider,
                    intra_op_threads=args.threads,
                    cache_dir=Path(cache),
                )
        for embedder in embedders.values():
            embedder.embed(chips[:8])  # load the model, warm the session
        rates: dict[str, list[float]] = {key: [] for key in embedders}
        for _ in range(args.rounds):
            for key, embedder in embedders.items():
                rates[key].append(rate(embedder))
    medians = {key: statistics.median(values) for key, values in rates.items()}
    return {
        "threads": args.threads,
        "chips": len(chips),
        "faces_per_s_median": medians,
        "ratio_vs_dlib": {k: v / medians["dlib"] for k, v in medians.items() if k != "dlib"},
        "faces_per_s_rounds": rates,
        "providers_available": ort.get_available_providers(),
        "numpy": np.__version__,
        "onnxruntime": ort.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lfw", type=Path, default=Path("../shared/datasets/lfw"))
    parser.add_argument("--chips", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/embed-throughput.json"))
    parser.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        print(json.dumps(measure(args)))
        return
    cores = os.cpu_count() or 1
    runs = []
    for threads in sorted({1, cores}):
        env = {**os.environ, **dict.fromkeys(_THREAD_VARIABLES, str(threads))}
        # The child imports this checkout's facelens, as `python -m` did for the parent.
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "bench.embed_throughput", "--threads", str(threads)]
        command += ["--lfw", str(args.lfw), "--chips", str(args.chips)]
        command += ["--rounds", str(args.rounds)]
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, check=True, cwd=root
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps({k: runs[-1][k] for k in ("threads", "faces_per_s_median")}))
    result = {
        "runs": runs,
        "cores": cores,
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for run in runs:
        print(f"threads={run['threads']}")
        for key, value in run["faces_per_s_median"].items():
            ratio = run["ratio_vs_dlib"].get(key, 1.0)
            print(f"  {key:>18}: {value:8.1f} faces/s  x{ratio:.2f} of dlib")


if __name__ == "__main__":
    main()
