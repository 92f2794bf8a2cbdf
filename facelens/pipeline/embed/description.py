"""The description of an operator's ONNX face model: what its input wants and what it gives.

An ONNX file says its tensors' shapes and types, but not the channel order, normalisation or
face alignment the model was trained with; the operator states those in a small JSON file
beside it (docs/models.md). ``load_description`` reads and validates it, and
``check_against_graph`` compares it with what the ONNX file declares when it is loaded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from facelens.errors import ModelDescriptionError, ModelDescriptionMismatchError
from facelens.pipeline.align import CHIP_SIZES_PX, Alignment

#: ONNX Runtime's names of the input types a description may declare.
ORT_TYPES = {"uint8": "tensor(uint8)", "float32": "tensor(float)"}

Triple = tuple[float, float, float]


class ModelDescription(BaseModel):
    """How to feed an ONNX face model and what it returns. ``mean`` and ``std`` are per
    channel, in the model's channel order, applied as (pixel - mean) / std to 0-255 values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=150, description="Display name, in the model id.")
    input_size_px: int = Field(gt=0, description="Side of the square input chip.")
    channel_order: Literal["rgb", "bgr"]
    layout: Literal["nhwc", "nchw"]
    input_dtype: Literal["uint8", "float32"]
    mean: Triple = (0.0, 0.0, 0.0)
    std: Triple = (1.0, 1.0, 1.0)
    alignment: Alignment
    output_dim: int = Field(gt=0, le=4096, description="Length of the embedding it returns.")

    @model_validator(mode="after")
    def _consistent(self) -> ModelDescription:
        side = CHIP_SIZES_PX[self.alignment]
        if self.input_size_px != side:
            raise ValueError(
                f"input_size_px {self.input_size_px} is not the {self.alignment} template's "
                f"chip side {side}"
            )
        if any(s <= 0 for s in self.std):
            raise ValueError("every std must be above 0")
        if self.input_dtype == "uint8" and (self.mean != (0, 0, 0) or self.std != (1, 1, 1)):
            # uint8 input cannot carry normalised values: such a graph normalises itself.
            raise ValueError("a uint8 input takes raw pixels: mean must be 0 and std 1")
        return self

    def fingerprint(self) -> str:
        """sha256 of the fields that change the embeddings (the name does not)."""
        fields = self.model_dump(mode="json", exclude={"name"})
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def description_path(model_path: Path, given: Path | None = None) -> Path:
    """The description of ``model_path``: ``given``, or the ``.json`` file beside it."""
    return given if given is not None else model_path.with_suffix(".json")


def load_description(path: Path) -> ModelDescription:
    """The description in ``path``; ``ModelDescriptionError`` saying what to fix otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelDescriptionError(
            f"no model description at {path}: write one beside the ONNX file (docs/models.md), "
            "or set embed_model_description_path"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ModelDescriptionError(
            f"the model description {path} cannot be read ({error}); check the file, and "
            "docs/models.md for its format"
        ) from None
    try:
        loaded = json.loads(text)
    except ValueError as error:
        raise ModelDescriptionError(
            f"the model description {path} is not JSON ({error}); write it as docs/models.md shows"
        ) from None
    try:
        return ModelDescription.model_validate(loaded)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'description'}: {e['msg']}"
            for e in error.errors()
        )
        raise ModelDescriptionError(
            f"the model description {path} cannot be used: {problems} (docs/models.md lists "
            "the fields)"
        ) from None


def input_shape(description: ModelDescription) -> tuple[int, int, int]:
    """The shape of one input chip in the model's layout."""
    side = description.input_size_px
    return (side, side, 3) if description.layout == "nhwc" else (3, side, side)


def check_against_graph(
    description: ModelDescription, inputs: list[Any], outputs: list[Any], model_path: Path
) -> None:
    """Refuse a description that disagrees with the ONNX graph's declared input and output
    (ONNX Runtime's ``NodeArg`` lists). A dimension the graph leaves open (a name, or None)
    agrees with anything."""

    def mismatch(what: str) -> ModelDescriptionMismatchError:
        return ModelDescriptionMismatchError(
            f"{model_path} {what}; fix its description (docs/models.md) to match the model"
        )

    if len(inputs) != 1:
        raise mismatch(f"takes {len(inputs)} inputs; facelens feeds one batch of chips")
    if not outputs:
        raise mismatch("has no output")
    graph_input = inputs[0]
    if graph_input.type != ORT_TYPES[description.input_dtype]:
        raise mismatch(
            f"takes {graph_input.type}, but the description says {description.input_dtype}"
        )
    wanted = input_shape(description)
    shape = list(graph_input.shape)
    if len(shape) != 4 or not all(_agrees(d, w) for d, w in zip(shape[1:], wanted, strict=True)):
        raise mismatch(
            f"takes input of shape {shape}, but the description says (n, "
            f"{', '.join(map(str, wanted))}) ({description.layout}, "
            f"{description.input_size_px} px)"
        )
    out_shape = list(outputs[0].shape)
    if len(out_shape) != 2 or not _agrees(out_shape[1], description.output_dim):
        raise mismatch(
            f"gives output of shape {out_shape}, but the description says (n, "
            f"{description.output_dim})"
        )


def _agrees(declared: object, wanted: int) -> bool:
    return not isinstance(declared, int) or declared == wanted
