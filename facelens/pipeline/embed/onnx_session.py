"""ONNX Runtime sessions for the backends that run an ONNX graph (the ``onnx`` and
``onnx_file`` embedders, the ``mtcnn`` detector): the provider checked and logged, the
intra-op threads set, in one place.

``onnxruntime`` is imported when a session is made, so only the deployments that choose one
of these backends need it to load.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from facelens.errors import ExecutionProviderError, ModelNotAvailableError
from facelens.pipeline.decode import RgbImage
from facelens.types import FloatArray

log = logging.getLogger(__name__)

#: ``embed_provider`` values and the ONNX Runtime execution provider each one names.
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


def check_provider(provider: str) -> None:
    """Refuse an ``embed_provider`` facelens does not know, before any model is loaded."""
    if provider not in PROVIDERS:
        raise ExecutionProviderError(
            f"unknown embed_provider {provider!r}; choose one of {', '.join(PROVIDERS)}"
        )


def make_session(path: Path, *, provider: str, intra_op_threads: int, backend: str) -> Any:
    """An ``onnxruntime.InferenceSession`` of the model at ``path`` on ``provider`` (an
    ``embed_provider`` value); ``backend`` names the setting that chose it in error messages
    (``"embedder='onnx'"``, ``"detector='mtcnn'"``)."""
    check_provider(provider)
    try:
        import onnxruntime as ort
    except ImportError as error:
        raise ModelNotAvailableError(
            f"{backend} needs onnxruntime: run `pip install onnxruntime` "
            "(or onnxruntime-gpu for embed_provider='cuda')"
        ) from error
    wanted = PROVIDERS[provider]
    available = ort.get_available_providers()
    if wanted not in available:
        raise ExecutionProviderError(
            f"embed_provider={provider!r} needs ONNX Runtime's {wanted}, which this "
            f"installation lacks (it has {', '.join(available)}); install onnxruntime-gpu "
            "with a working CUDA, or set embed_provider='cpu'"
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=[wanted])
    except Exception as error:  # ORT raises its own untyped errors for unreadable graphs
        raise ModelNotAvailableError(
            f"ONNX Runtime cannot load {path}: {error}; check that it is an ONNX model file"
        ) from error
    log.info(
        "ONNX model %s of %s on %s (intra-op threads %s)",
        path.name,
        backend,
        ", ".join(session.get_providers()),
        intra_op_threads or "default",
    )
    return session


def run_in_batches(
    session: Any,
    input_name: str,
    chips: list[RgbImage],
    batch_size: int,
    prepare: Callable[[np.ndarray], np.ndarray] | None = None,
) -> FloatArray:
    """The first output of ``session`` for ``chips``, ``batch_size`` chips a call, each
    batch (n, side, side, 3) uint8 passed through ``prepare`` first when given."""
    parts = []
    for start in range(0, len(chips), batch_size):
        batch = np.stack([np.asarray(c, dtype=np.uint8) for c in chips[start : start + batch_size]])
        fed = prepare(batch) if prepare is not None else batch
        parts.append(np.asarray(session.run(None, {input_name: fed})[0], dtype=np.float32))
    out: FloatArray = np.concatenate(parts)
    return out
