"""ONNX models for the tests of the ``onnx_file`` embedder: dlib's ResNet converted (a real
model) described as dlib feeds it, and a small generated 112x112 model (a fixed random
projection) that exercises the ArcFace template path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from facelens.config import Settings
from facelens.pipeline.embed.dlib_onnx.cache import converted_model

#: The converted dlib model described as the ``onnx`` embedder feeds it.
DLIB_DESCRIPTION: dict[str, Any] = {
    "name": "dlib-resnet-as-onnx-file",
    "input_size_px": 150,
    "channel_order": "rgb",
    "layout": "nhwc",
    "input_dtype": "uint8",
    "mean": [0, 0, 0],
    "std": [1, 1, 1],
    "alignment": "dlib-150",
    "output_dim": 128,
}

#: The generated model: NCHW float32 112x112 input normalised as ArcFace's, 64 dimensions.
PROJECTION_DIM = 64
PROJECTION_DESCRIPTION: dict[str, Any] = {
    "name": "projection-112",
    "input_size_px": 112,
    "channel_order": "bgr",
    "layout": "nchw",
    "input_dtype": "float32",
    "mean": [127.5, 127.5, 127.5],
    "std": [128.0, 128.0, 128.0],
    "alignment": "arcface-112",
    "output_dim": PROJECTION_DIM,
}


def write_description(path: Path, description: Any) -> Path:
    path.write_text(json.dumps(description, indent=2))
    return path


def dlib_as_onnx_file(folder: Path) -> Settings:
    """Settings of the ``onnx_file`` embedder running the converted dlib model."""
    folder.mkdir(parents=True, exist_ok=True)
    described = write_description(folder / "dlib.json", DLIB_DESCRIPTION)
    return Settings(
        embedder="onnx_file",
        embed_model_path=converted_model(),
        embed_model_description_path=described,
    )


def projection_model(folder: Path, seed: int = 14) -> Path:
    """Write ``projection.onnx`` (and ``projection.json`` beside it) to ``folder``: 4x4
    average pooling of a (n, 3, 112, 112) float32 input, flattened, times a fixed random
    (2352, 64) matrix. Returns the ONNX file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = np.random.default_rng(seed).standard_normal((3 * 28 * 28, PROJECTION_DIM))
    graph = helper.make_graph(
        [
            helper.make_node(
                "AveragePool", ["chips"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4]
            ),
            helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "weights"], ["embeddings"]),
        ],
        "projection_112",
        [helper.make_tensor_value_info("chips", TensorProto.FLOAT, ["n", 3, 112, 112])],
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["n", PROJECTION_DIM])],
        initializer=[numpy_helper.from_array(weights.astype(np.float32), "weights")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what every onnxruntime from 1.15 reads
    onnx.checker.check_model(model)
    path = folder / "projection.onnx"
    onnx.save(model, path)
    write_description(path.with_suffix(".json"), PROJECTION_DESCRIPTION)
    return path


def projection_settings(folder: Path, **overrides: Any) -> Settings:
    """Settings of the ``onnx_file`` embedder running the generated 112x112 model."""
    return Settings(embedder="onnx_file", embed_model_path=projection_model(folder), **overrides)
