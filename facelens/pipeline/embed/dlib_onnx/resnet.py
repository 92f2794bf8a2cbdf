"""dlib's face-recognition ResNet (``anet_type`` of dlib's dnn_face_recognition_ex.cpp) as an
ONNX graph (opset 17), built from the weights the serialisation reader found.

The graph's input is what facelens's aligner produces: ``chips``, a batch of aligned
150 x 150 RGB chips, NHWC uint8 (N, 150, 150, 3). dlib's input layer normalisation
((value - channel mean) / 256, the means read from the file) is in the graph, so callers pass
the chips exactly as they pass them to dlib. The output ``descriptors`` (N, 128) float32 is
dlib's raw descriptor (not L2-normalised).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from facelens.errors import ModelConversionError
from facelens.pipeline.embed.dlib_onnx.serialize import Layer, Network

OPSET = 17
INPUT_NAME = "chips"
OUTPUT_NAME = "descriptors"


@dataclass(frozen=True, slots=True)
class Op:
    """One wrapper of ``anet_type``, outside-in: a layer kind (dlib's serialised name) or a
    tag/skip with its id; ``add_prev_`` carries the id of the tag it adds."""

    kind: str
    tag: int = 0


def _block(stride: int) -> list[Op]:
    # block<N,BN,stride> = BN<con<N,3,3,1,1,relu<BN<con<N,3,3,stride,stride,SUBNET>>>>>
    del stride  # the file holds each con's stride; the converter checks shapes instead
    return [Op("affine_"), Op("con_4"), Op("relu_"), Op("affine_"), Op("con_4")]


def _ares() -> list[Op]:
    # relu<add_prev1<block<N,affine,1,tag1<SUBNET>>>>
    return [Op("relu_"), Op("add_prev_", 1), *_block(1), Op("tag", 1)]


def _ares_down() -> list[Op]:
    # relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,affine,2,tag1<SUBNET>>>>>>>
    return [
        Op("relu_"), Op("add_prev_", 2), Op("avg_pool_2"), Op("skip", 1), Op("tag", 2),
        *_block(2), Op("tag", 1),
    ]  # fmt: skip


def anet_type() -> list[Op]:
    """The wrappers of ``anet_type`` below its loss layer, outside-in."""
    level0 = _ares_down()
    level1 = [*_ares(), *_ares(), *_ares_down()]
    level2 = [*_ares(), *_ares(), *_ares_down()]
    level3 = [*_ares(), *_ares(), *_ares(), *_ares_down()]
    level4 = [*_ares(), *_ares(), *_ares()]
    return [
        Op("fc_2"), Op("avg_pool_2"), *level0, *level1, *level2, *level3, *level4,
        Op("max_pool_2"), Op("relu_"), Op("affine_"), Op("con_4"),
    ]  # fmt: skip


def _check_structure(network: Network, ops: list[Op]) -> None:
    expected = ["tag" if op.kind in ("tag", "skip") else "layer" for op in ops]
    if network.structure != expected:
        raise ModelConversionError(
            "the network file's layer/tag nesting is not dlib's face-recognition ResNet "
            "(anet_type); use dlib_face_recognition_resnet_model_v1.dat"
        )
    kinds = [op.kind for op in reversed(ops) if op.kind not in ("tag", "skip")]
    found = [layer.kind for layer in network.layers]
    if kinds != found:
        first = next(i for i, (a, b) in enumerate(zip(kinds, found, strict=True)) if a != b)
        raise ModelConversionError(
            f"layer {first} of the network file is {found[first]!r}, anet_type has "
            f"{kinds[first]!r}; use dlib_face_recognition_resnet_model_v1.dat"
        )


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self.count = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, stem: str, value: npt.NDArray[Any]) -> str:
        name = self.name(stem)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], stem: str, **attrs: Any) -> str:
        out = self.name(stem)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out


Shape = tuple[int, int, int]  # channels, rows, columns of one sample


def _pool_size(size: int, window: int, stride: int, pad: int) -> int:
    return 1 + (size + 2 * pad - window) // stride


def build_model(network: Network) -> onnx.ModelProto:
    """The ONNX model of a parsed ``anet_type`` network."""
    ops = anet_type()
    _check_structure(network, ops)
    g = _Graph()
    rows, cols = network.input_size
    means = np.asarray(network.input_means, dtype=np.float32).reshape(1, 1, 1, 3)
    x = g.node("Cast", [INPUT_NAME], "float", to=TensorProto.FLOAT)
    x = g.node("Sub", [x, g.const("channel_means", means)], "centred")
    # dlib's input_rgb_image divides by 256 (not 255, not the standard deviation).
    x = g.node("Div", [x, g.const("scale", np.asarray(256.0, dtype=np.float32))], "scaled")
    x = g.node("Transpose", [x], "nchw", perm=[0, 3, 1, 2])
    shape: Shape = (3, rows, cols)
    tags: dict[int, tuple[str, Shape]] = {}
    layers = iter(network.layers)
    for op in reversed(ops):
        if op.kind == "tag":
            tags[op.tag] = (x, shape)
            continue
        if op.kind == "skip":
            x, shape = tags[op.tag]
            continue
        layer = next(layers)
        x, shape = _apply(g, layer, op, x, shape, tags)
    g.nodes.append(helper.make_node("Identity", [x], [OUTPUT_NAME], name=OUTPUT_NAME))
    graph = helper.make_graph(
        g.nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, ["batch", rows, cols, 3])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", shape[0]])],
        g.initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="facelens"
    )
    model.ir_version = 8  # what onnxruntime releases since 1.15 read
    onnx.checker.check_model(model)
    return model


def _apply(
    g: _Graph, layer: Layer, op: Op, x: str, shape: Shape, tags: dict[int, tuple[str, Shape]]
) -> tuple[str, Shape]:
    channels, rows, cols = shape
    if layer.kind == "con_4":
        p = layer.ints
        filters, biases = layer.tensors["filters"], layer.tensors["biases"]
        if filters.shape[1] != channels:
            raise ModelConversionError(
                f"a convolution expects {filters.shape[1]} channels, gets {channels}"
            )
        out = g.node(
            "Conv",
            [x, g.const("filters", filters), g.const("biases", biases)],
            "con",
            kernel_shape=[p["nr"], p["nc"]],
            strides=[p["stride_y"], p["stride_x"]],
            pads=[p["pad_y"], p["pad_x"], p["pad_y"], p["pad_x"]],
        )
        return out, (
            p["num_filters"],
            _pool_size(rows, p["nr"], p["stride_y"], p["pad_y"]),
            _pool_size(cols, p["nc"], p["stride_x"], p["pad_x"]),
        )
    if layer.kind == "affine_":
        # At inference dlib's affine (a frozen batch norm) is gamma * x + beta per channel.
        gamma = layer.tensors["gamma"].reshape(1, -1, 1, 1)
        beta = layer.tensors["beta"].reshape(1, -1, 1, 1)
        x = g.node("Mul", [x, g.const("gamma", gamma)], "affine_mul")
        return g.node("Add", [x, g.const("beta", beta)], "affine"), shape
    if layer.kind == "relu_":
        return g.node("Relu", [x], "relu"), shape
    if layer.kind in ("max_pool_2", "avg_pool_2"):
        p = layer.ints
        if p["nr"] == 0 and p["nc"] == 0:  # dlib's avg_pool_everything
            return g.node("GlobalAveragePool", [x], "avg_pool_everything"), (channels, 1, 1)
        if p["pad_y"] or p["pad_x"]:
            # Padded dlib pooling ignores the padding; ONNX's default counts it. The shipped
            # network pools without padding, so this path is refused rather than guessed.
            raise ModelConversionError("padded pooling layers are not supported")
        out = g.node(
            "MaxPool" if layer.kind == "max_pool_2" else "AveragePool",
            [x],
            "pool",
            kernel_shape=[p["nr"], p["nc"]],
            strides=[p["stride_y"], p["stride_x"]],
        )
        return out, (
            channels,
            _pool_size(rows, p["nr"], p["stride_y"], 0),
            _pool_size(cols, p["nc"], p["stride_x"], 0),
        )
    if layer.kind == "add_prev_":
        other, other_shape = tags[op.tag]
        # dlib's add_prev adds tensors of different sizes as if both were zero-padded (at the
        # end of each dimension) to the larger size.
        target = tuple(max(a, b) for a, b in zip(shape, other_shape, strict=True))
        a = _pad_to(g, x, shape, target)
        b = _pad_to(g, other, other_shape, target)
        return g.node("Add", [a, b], "add_prev"), (target[0], target[1], target[2])
    if layer.kind == "fc_2":
        weights = layer.tensors["weights"]
        if weights.shape[0] != channels * rows * cols:
            raise ModelConversionError(
                f"the fc layer expects {weights.shape[0]} inputs, gets {channels * rows * cols}"
            )
        flat = g.node("Flatten", [x], "flatten", axis=1)
        out = g.node("MatMul", [flat, g.const("fc_weights", weights)], "fc")
        if "biases" in layer.tensors and layer.tensors["biases"].size:
            out = g.node("Add", [out, g.const("fc_biases", layer.tensors["biases"])], "fc_bias")
        return out, (weights.shape[1], 1, 1)
    raise ModelConversionError(f"no ONNX translation for dlib layer {layer.kind!r}")


def _pad_to(g: _Graph, x: str, shape: Shape, target: tuple[int, ...]) -> str:
    if tuple(shape) == target:
        return x
    extra = [0, 0, 0, 0, 0, *(t - s for s, t in zip(shape, target, strict=True))]
    pads = g.const("pads", np.asarray(extra, dtype=np.int64))
    return g.node("Pad", [x, pads], "pad")
