"""dlib's face-recognition ResNet on ONNX Runtime: the same answers as dlib, in batches.

The session is made by ``embed.onnx_session`` (shared with the ``onnx_file`` embedder) on
first use, so only deployments that choose ``embedder="onnx"`` need ONNX Runtime to load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from facelens.config import Settings
from facelens.pipeline.decode import RgbImage
from facelens.pipeline.embed.base import Embedder
from facelens.pipeline.embed.dlib_onnx.cache import converted_model
from facelens.pipeline.embed.dlib_resnet import DlibResNetEmbedder
from facelens.pipeline.embed.onnx_session import (
    PROVIDERS,
    check_provider,
    make_session,
    run_in_batches,
)
from facelens.types import FloatArray

__all__ = ["PROVIDERS", "OnnxResNetEmbedder", "from_settings"]


class OnnxResNetEmbedder(Embedder):
    """The converted dlib ResNet under ONNX Runtime. Its model id is dlib's: the converted
    network gives the same descriptors (within 1e-4), so stored embeddings stay comparable."""

    model = DlibResNetEmbedder.model

    def __init__(
        self,
        *,
        flip_average: bool = False,
        jitters: int = 0,
        batch_size: int = 32,
        provider: str = "cpu",
        intra_op_threads: int = 0,
        cache_dir: Path | None = None,
    ) -> None:
        check_provider(provider)
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.flip_average = flip_average
        self.jitters = jitters
        self.batch_size = batch_size
        self.provider = provider
        self.intra_op_threads = intra_op_threads
        self.cache_dir = cache_dir
        self._session: Any = None

    def _network(self, chips: list[RgbImage]) -> FloatArray:
        session = self.session()
        return run_in_batches(session, session.get_inputs()[0].name, chips, self.batch_size)

    def session(self) -> Any:
        """The ONNX Runtime session, made (and the model converted) on first use."""
        if self._session is None:
            self._session = make_session(
                converted_model(self.cache_dir),
                provider=self.provider,
                intra_op_threads=self.intra_op_threads,
                backend="embedder='onnx'",
            )
        return self._session


def from_settings(settings: Settings) -> OnnxResNetEmbedder:
    return OnnxResNetEmbedder(
        flip_average=settings.embed_flip_average,
        jitters=settings.embed_jitters,
        batch_size=settings.embed_batch_size,
        provider=settings.embed_provider,
        intra_op_threads=settings.onnx_intra_op_threads,
        cache_dir=settings.onnx_model_dir,
    )
