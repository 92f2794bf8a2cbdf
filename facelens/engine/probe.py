"""Decoding and analysing images given to the engine (probes): no store, no index."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facelens.engine.state import EngineState, ImageInput
from facelens.errors import (
    InvalidArgumentError,
    NoFaceFoundError,
)
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.decode import RgbImage, decode_image
from facelens.types import (
    AnalysedFace,
    ImageAnalysis,
)


class Probe(EngineState):
    """Images given to the engine, analysed."""

    def analyse(self, image: ImageInput) -> ImageAnalysis:
        """Every face in ``image`` (path, bytes or RGB array), largest first."""
        return self.pipeline.analyse(self._decode(image))

    def _decode(self, image: ImageInput) -> RgbImage:
        if isinstance(image, str | Path):
            return self.pipeline.load(Path(image))
        if isinstance(image, bytes):
            return decode_image(
                image,
                max_image_bytes=self.settings.max_image_bytes,
                max_image_pixels=self.settings.max_image_pixels,
                max_decode_bytes=self.settings.max_decode_bytes,
            )
        array = np.asarray(image)
        if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
            raise InvalidArgumentError(
                f"an image array must be RGB uint8 of shape (H, W, 3), got {array.dtype} "
                f"{array.shape}"
            )
        return np.ascontiguousarray(array)

    def probe_faces(
        self, image: ImageInput, what: str, *, pipeline: FacePipeline | None = None
    ) -> tuple[ImageAnalysis, list[AnalysedFace]]:
        """Decode and analyse a probe; refuses one without a usable face. Touches neither the
        store nor the index, so it needs no engine lock: threads may each run it with their
        own ``pipeline`` (of the same settings and model) at once."""
        pipeline = pipeline or self.pipeline
        analysis = pipeline.analyse_probe(self._decode(image))
        return analysis, usable_faces(analysis, what)


def usable_faces(analysis: ImageAnalysis, what: str) -> list[AnalysedFace]:
    """The accepted faces of a probe's ``analysis``; refuses one without any (``what``: the
    probe, as the message names it)."""
    accepted = analysis.accepted_faces
    if not accepted:
        if analysis.faces:
            reasons = ", ".join(sorted({f.quality.rejection_reason or "" for f in analysis.faces}))
            raise NoFaceFoundError(
                f"{what}: {len(analysis.faces)} face(s) found but none usable ({reasons}); "
                "use a sharper photo where the face is larger"
            )
        raise NoFaceFoundError(
            f"{what}: no face found; use a photo where the face is clearly visible, or raise "
            "FACELENS_DETECT_UPSAMPLE_TIMES to find smaller faces"
        )
    return accepted
