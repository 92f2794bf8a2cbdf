"""MTCNN's three networks as ONNX graphs (opset 17), built from the weights with ``onnx.helper``.

The architecture is facenet-pytorch's (``models/mtcnn.py``), itself the original MTCNN's
(Zhang et al., 2016): 3x3 convolutions with PReLU, max pooling with torch's ``ceil_mode``, and
in R-Net and O-Net dense layers after a transpose. facenet-pytorch permutes the last feature
map (N, C, H, W) to (N, W, H, C) before flattening it, because the weights were converted from
the original Caffe models, which saw images transposed; the graphs do the same, so the dense
weights are used as they are.

Every graph takes ``images``: a batch of RGB images, NHWC uint8 (N, H, W, 3), and does
facenet-pytorch's normalisation, (value - 127.5) * 0.0078125, itself. P-Net is fully
convolutional (any H, W >= 12); R-Net takes 24 x 24 crops, O-Net 48 x 48. Outputs:

- P-Net: ``regression`` (N, 4, H', W') and ``probability`` (N, 2, H', W'), the softmax over
  (not face, face), H' = ceil((H - 2) / 2) - 4, and W' alike;
- R-Net: ``regression`` (N, 4) and ``probability`` (N, 2);
- O-Net: ``regression`` (N, 4), ``landmarks`` (N, 10: five x, then five y, as shares of the
  box) and ``probability`` (N, 2).

``graph_cache`` keeps the built graphs; only a build imports this module (and onnx).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from facelens.errors import ModelIntegrityError
from facelens.pipeline.detect.mtcnn.torch_file import StateDict

OPSET = 17
INPUT_NAME = "images"
#: Each network's layers before its heads: ("conv", name), ("prelu", name), ("pool", kernel,
#: stride), ("flatten",) (torch's permute(0, 3, 2, 1) and view), ("dense", name).
LAYERS: dict[str, list[tuple[Any, ...]]] = {
    "pnet": [
        ("conv", "conv1"), ("prelu", "prelu1"), ("pool", 2, 2),
        ("conv", "conv2"), ("prelu", "prelu2"),
        ("conv", "conv3"), ("prelu", "prelu3"),
    ],
    "rnet": [
        ("conv", "conv1"), ("prelu", "prelu1"), ("pool", 3, 2),
        ("conv", "conv2"), ("prelu", "prelu2"), ("pool", 3, 2),
        ("conv", "conv3"), ("prelu", "prelu3"),
        ("flatten",), ("dense", "dense4"), ("prelu", "prelu4"),
    ],
    "onet": [
        ("conv", "conv1"), ("prelu", "prelu1"), ("pool", 3, 2),
        ("conv", "conv2"), ("prelu", "prelu2"), ("pool", 3, 2),
        ("conv", "conv3"), ("prelu", "prelu3"), ("pool", 2, 2),
        ("conv", "conv4"), ("prelu", "prelu4"),
        ("flatten",), ("dense", "dense5"), ("prelu", "prelu5"),
    ],
}  # fmt: skip
#: Each network's heads: output name, layer, and whether a softmax follows.
HEADS: dict[str, list[tuple[str, str, bool]]] = {
    "pnet": [("regression", "conv4_2", False), ("probability", "conv4_1", True)],
    "rnet": [("regression", "dense5_2", False), ("probability", "dense5_1", True)],
    "onet": [
        ("regression", "dense6_2", False),
        ("landmarks", "dense6_3", False),
        ("probability", "dense6_1", True),
    ],
}
#: The crop side R-Net and O-Net take; P-Net takes any size.
INPUT_SIDE_PX = {"pnet": None, "rnet": 24, "onet": 48}


class _Builder:
    """Nodes and initializers of one graph, each named after the layer it comes from."""

    def __init__(self, weights: StateDict, network: str) -> None:
        self.weights = weights
        self.network = network
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value.astype(np.float32), name))
        return name

    def weight(self, key: str, shape: tuple[int, ...] | None = None) -> str:
        try:
            value = self.weights[key]
        except KeyError:
            raise ModelIntegrityError(f"MTCNN's {self.network} weights lack {key}") from None
        return self.constant(key, value if shape is None else value.reshape(shape))

    def node(self, op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def layer(self, spec: tuple[Any, ...], x: str, conv_output: bool) -> str:
        kind = spec[0]
        if kind == "conv":
            name = spec[1]
            return self.node(
                "Conv", [x, self.weight(f"{name}.weight"), self.weight(f"{name}.bias")], name
            )
        if kind == "prelu":
            name = spec[1]
            channels = self.weights[f"{name}.weight"].shape[0]
            # Per channel: broadcast over H and W after a convolution, over N after a dense.
            shape = (channels, 1, 1) if conv_output else (channels,)
            return self.node("PRelu", [x, self.weight(f"{name}.weight", shape)], name)
        if kind == "pool":
            _, kernel, stride = spec
            return self.node(
                "MaxPool", [x], f"{x}.pool", kernel_shape=[kernel, kernel],
                strides=[stride, stride], ceil_mode=1,
            )  # fmt: skip
        if kind == "flatten":
            transposed = self.node("Transpose", [x], f"{x}.whc", perm=[0, 3, 2, 1])
            return self.node("Flatten", [transposed], f"{x}.flat", axis=1)
        if kind == "dense":
            name = spec[1]
            inputs = [x, self.weight(f"{name}.weight"), self.weight(f"{name}.bias")]
            return self.node("Gemm", inputs, name, transB=1)
        raise ValueError(f"unknown layer {spec!r}")


def build_graph(network: str, weights: StateDict) -> onnx.ModelProto:
    """The ONNX model of ``network`` (``pnet``, ``rnet``, ``onet``) with ``weights``, its
    state dict; checked by ``onnx.checker``."""
    builder = _Builder(weights, network)
    side = INPUT_SIDE_PX[network]
    height: str | int = "height" if side is None else side
    width: str | int = "width" if side is None else side
    x = builder.node("Cast", [INPUT_NAME], "pixels", to=TensorProto.FLOAT)
    x = builder.node("Transpose", [x], "nchw", perm=[0, 3, 1, 2])
    x = builder.node("Sub", [x, builder.constant("mean", np.array(127.5))], "centred")
    x = builder.node("Mul", [x, builder.constant("scale", np.array(0.0078125))], "normalised")
    conv_output = True
    for spec in LAYERS[network]:
        x = builder.layer(spec, x, conv_output)
        conv_output = conv_output and spec[0] != "flatten"
    outputs = []
    for output, layer, softmax in HEADS[network]:
        kind = "conv" if conv_output else "dense"
        head = builder.layer((kind, layer), x, conv_output)
        if softmax:
            builder.node("Softmax", [head], output, axis=1)
        else:
            builder.node("Identity", [head], output)
        shape: list[str | int] = (
            ["n", weights[f"{layer}.bias"].shape[0], "out_height", "out_width"]
            if conv_output
            else ["n", weights[f"{layer}.bias"].shape[0]]
        )
        outputs.append(helper.make_tensor_value_info(output, TensorProto.FLOAT, shape))
    graph = helper.make_graph(
        builder.nodes,
        f"mtcnn_{network}",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, ["n", height, width, 3])],
        outputs,
        initializer=builder.initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="facelens"
    )
    model.ir_version = 8  # what onnxruntime releases since 1.15 read
    onnx.checker.check_model(model)
    return model
