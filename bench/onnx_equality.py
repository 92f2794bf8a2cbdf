"""dlib's ResNet against its ONNX conversion on LFW faces: are the answers the same?

    .venv/bin/python -m bench.onnx_equality --lfw ../shared/datasets/lfw --images 500 \\
        --out bench/results/onnx-equality.json

The first ``--images`` LFW images (people in name order, their photos in number order) are
decoded, detected and aligned by facelens's pipeline with the default settings; every face
found is embedded by dlib (``compute_face_descriptor``) and by the converted model under ONNX
Runtime (CPU), and by both embedders as the pipeline runs them (flip averaging, normalised).
Written: the largest absolute difference of any descriptor component, and the cosine distance
(1 - cosine similarity) between the two embeddings of each face.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import dlib
import numpy as np
import onnxruntime as ort

from facelens.config import Settings
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.decode import RgbImage
from facelens.pipeline.embed.base import l2_normalise
from facelens.pipeline.embed.dlib_onnx.cache import converted_model
from facelens.pipeline.embed.dlib_onnx.embedder import OnnxResNetEmbedder
from facelens.pipeline.embed.dlib_resnet import DlibResNetEmbedder
from facelens.pipeline.models import RESNET_EMBEDDER_FILE, model_path
from facelens.types import FloatArray


def lfw_images(root: Path, count: int) -> list[Path]:
    folder = root / "images" if (root / "images").is_dir() else root / "lfw"
    paths = [p for person in sorted(folder.iterdir()) for p in sorted(person.glob("*.jpg"))]
    return paths[:count]


def chips_of(paths: list[Path], pipeline: FacePipeline) -> list[RgbImage]:
    chips = []
    for path in paths:
        image = pipeline.load(path)
        for detection in pipeline.detector.detect(image):
            chips.append(pipeline.aligner.align(image, detection.box).chip)
    return chips


def cosine_distance_stats(a: FloatArray, b: FloatArray) -> dict[str, float]:
    distance = 1.0 - np.sum(l2_normalise(a) * l2_normalise(b), axis=1, dtype=np.float64)
    return {
        "max": float(distance.max()),
        "mean": float(distance.mean()),
        "median": float(np.median(distance)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lfw", type=Path, default=Path("../shared/datasets/lfw"))
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path("bench/results/onnx-equality.json"))
    args = parser.parse_args()

    settings = Settings()
    pipeline = FacePipeline(settings)
    paths = lfw_images(args.lfw, args.images)
    chips = chips_of(paths, pipeline)
    print(f"{len(paths)} images, {len(chips)} faces")

    with tempfile.TemporaryDirectory() as cache:
        model = converted_model(Path(cache))
        session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        started = time.perf_counter()
        onnx_raw = np.concatenate(
            [
                session.run(None, {"chips": np.stack(chips[i : i + 32])})[0]
                for i in range(0, len(chips), 32)
            ]
        )
        onnx_s = time.perf_counter() - started
        net = dlib.face_recognition_model_v1(str(model_path(RESNET_EMBEDDER_FILE)))
        started = time.perf_counter()
        dlib_raw = np.asarray(
            [np.asarray(d) for d in net.compute_face_descriptor(chips, 0)], dtype=np.float32
        )
        dlib_s = time.perf_counter() - started

        # As the pipeline embeds (flip averaging on, as by default), through both embedders.
        onnx_embedder = OnnxResNetEmbedder(flip_average=True, cache_dir=Path(cache))
        dlib_embedder = DlibResNetEmbedder(flip_average=True)
        onnx_embedded = np.stack([e.vector for e in onnx_embedder.embed(chips)])
        dlib_embedded = np.stack([e.vector for e in dlib_embedder.embed(chips)])

    result: dict[str, Any] = {
        "images": len(paths),
        "faces": len(chips),
        "raw_descriptor": {
            "max_abs_difference": float(np.abs(onnx_raw - dlib_raw).max()),
            "cosine_distance": cosine_distance_stats(onnx_raw, dlib_raw),
        },
        "pipeline_embedding_flip_average": {
            "max_abs_difference": float(np.abs(onnx_embedded - dlib_embedded).max()),
            "cosine_distance": cosine_distance_stats(onnx_embedded, dlib_embedded),
        },
        "seconds_raw_descriptors": {"onnx_batch_32": onnx_s, "dlib": dlib_s},
        "versions": {
            "dlib": dlib.__version__,
            "onnxruntime": ort.__version__,
            "python": platform.python_version(),
        },
        "machine": platform.processor() or platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
