"""The suppression list: people who opted out are never stored again nor found."""

from __future__ import annotations

import numpy as np

from facelens.engine.state import EngineState
from facelens.pipeline.embed.base import fused_template
from facelens.types import (
    FloatArray,
    ImageAnalysis,
)


class Suppression(EngineState):
    """People who opted out."""

    def suppressed(self, vectors: FloatArray) -> np.ndarray:
        """Which of ``vectors`` (n, dim) are faces of someone who opted out."""
        suppressed = self._suppression_list()
        if not len(suppressed) or not len(vectors):
            return np.zeros(len(vectors), dtype=bool)
        scores = np.asarray(vectors, dtype=np.float32) @ suppressed.T
        return np.asarray((scores >= self.settings.opt_out_threshold).any(axis=1))

    def _suppression_list(self) -> FloatArray:
        """One fused template per person who opted out, (people, dim)."""
        if self._suppressed is None:
            people = self.store.suppression_templates()
            self._suppressed = (
                np.stack([fused_template(t) for t in people])
                if people
                else np.zeros((0, 0), dtype=np.float32)
            )
        return self._suppressed

    def _without_suppressed(self, analysis: ImageAnalysis) -> tuple[ImageAnalysis, int]:
        embedded = [f for f in analysis.faces if f.embedding is not None]
        if not embedded:
            return analysis, 0
        flags = self.suppressed(np.stack([f.embedding.vector for f in embedded if f.embedding]))
        drop = {id(f) for f, flag in zip(embedded, flags, strict=True) if flag}
        if not drop:
            return analysis, 0
        kept = [f for f in analysis.faces if id(f) not in drop]
        return ImageAnalysis(analysis.width, analysis.height, kept), len(drop)
