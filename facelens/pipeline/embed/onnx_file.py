"""An operator's own ONNX face model (``embedder="onnx_file"``), described by a JSON file.

The operator holds the licence for the model (an ArcFace exported to ONNX, say) and gives
its file (``embed_model_path``) and description (``embed.description``). The model id names
the description's model and carries the file's sha256 and the description's fingerprint, so
embeddings of another file, or of the same file fed differently, never mix with these.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from facelens.config import Settings
from facelens.errors import ModelNotAvailableError
from facelens.pipeline.align import Alignment
from facelens.pipeline.decode import RgbImage
from facelens.pipeline.embed.base import Embedder
from facelens.pipeline.embed.description import (
    ModelDescription,
    check_against_graph,
    description_path,
    load_description,
)
from facelens.pipeline.embed.onnx_session import check_provider, make_session, run_in_batches
from facelens.types import FloatArray, ModelId

BACKEND = "onnx_file"


def file_sha256(path: Path) -> str:
    """sha256 of a file read in 1 MiB blocks (a model may be hundreds of MB)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as error:
        raise ModelNotAvailableError(
            f"the ONNX model {path} cannot be read ({error.strerror}); check embed_model_path"
        ) from None
    return digest.hexdigest()


def model_id_of(description: ModelDescription, onnx_sha256: str) -> ModelId:
    """The model id of ``description``'s model in a file with this sha256."""
    return ModelId(
        name=description.name,
        version=f"sha256:{onnx_sha256}.{description.fingerprint()[:8]}",
        dim=description.output_dim,
    )


class OnnxFileEmbedder(Embedder):
    """An ONNX face model from a file under ONNX Runtime, fed as its description says. The
    session is made, and checked against the description, when the embedder is: a wrong
    description is refused when the engine opens, not at the first face."""

    def __init__(
        self,
        path: Path,
        description: ModelDescription,
        *,
        flip_average: bool = False,
        jitters: int = 0,
        batch_size: int = 32,
        provider: str = "cpu",
        intra_op_threads: int = 0,
    ) -> None:
        check_provider(provider)
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.path = path
        self.description = description
        self.model = model_id_of(description, file_sha256(path))
        self.alignment: Alignment = description.alignment
        self.flip_average = flip_average
        self.jitters = jitters
        self.batch_size = batch_size
        self.provider = provider
        self.intra_op_threads = intra_op_threads
        self._session: Any = None
        self._input_name = ""
        self.session()

    def _network(self, chips: list[RgbImage]) -> FloatArray:
        session = self.session()
        return run_in_batches(session, self._input_name, chips, self.batch_size, self.prepare)

    def prepare(self, chips: np.ndarray) -> np.ndarray:
        """(n, side, side, 3) RGB uint8 chips as the model takes them."""
        d = self.description
        side = d.input_size_px
        if chips.shape[1:] != (side, side, 3):
            raise ValueError(f"chips must be ({side}, {side}, 3) for {d.name}: {chips.shape}")
        batch: np.ndarray = chips[..., ::-1] if d.channel_order == "bgr" else chips
        if d.input_dtype == "float32":
            mean = np.asarray(d.mean, dtype=np.float32)
            std = np.asarray(d.std, dtype=np.float32)
            batch = (batch.astype(np.float32) - mean) / std
        if d.layout == "nchw":
            batch = batch.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(batch)

    def session(self) -> Any:
        """The ONNX Runtime session, made and checked against the description on first use."""
        if self._session is None:
            session = make_session(
                self.path,
                provider=self.provider,
                intra_op_threads=self.intra_op_threads,
                backend=f"embedder={BACKEND!r}",
            )
            check_against_graph(
                self.description, session.get_inputs(), session.get_outputs(), self.path
            )
            self._input_name = session.get_inputs()[0].name
            self._session = session
        return self._session


def from_settings(settings: Settings) -> OnnxFileEmbedder:
    path = settings.embed_model_path
    if path is None:
        raise ModelNotAvailableError(
            "embedder='onnx_file' needs the model file: set embed_model_path "
            "(FACELENS_EMBED_MODEL_PATH) to an ONNX file with its description beside it "
            "(docs/models.md)"
        )
    path = path.expanduser()
    if not path.is_file():
        raise ModelNotAvailableError(
            f"embed_model_path {path} is not a file; give the ONNX model's path"
        )
    description = load_description(description_path(path, settings.embed_model_description_path))
    return OnnxFileEmbedder(
        path,
        description,
        flip_average=settings.embed_flip_average,
        jitters=settings.embed_jitters,
        batch_size=settings.embed_batch_size,
        provider=settings.embed_provider,
        intra_op_threads=settings.onnx_intra_op_threads,
    )
