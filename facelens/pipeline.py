"""The face pipeline: decode -> detect -> align -> quality -> embed, composed from its stages."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from facelens.align import FivePointAligner
from facelens.config import Settings
from facelens.decode import RgbImage, load_image
from facelens.detect import Detector, create_detector
from facelens.embed import Embedder, create_embedder
from facelens.quality import TOO_MANY_FACES, assess
from facelens.types import AnalysedFace, ImageAnalysis, ModelId


class FacePipeline:
    """Finds, aligns, checks and embeds every face of an image. Models load on first use."""

    def __init__(
        self,
        settings: Settings,
        *,
        detector: Detector | None = None,
        aligner: FivePointAligner | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings
        self.detector = detector or create_detector(settings)
        self.probe_detector = (
            self.detector
            if detector is not None
            or settings.probe_detect_upsample_times == settings.detect_upsample_times
            else create_detector(
                settings.model_copy(
                    update={"detect_upsample_times": settings.probe_detect_upsample_times}
                )
            )
        )
        self.aligner = aligner or FivePointAligner(settings.chip_padding)
        self.embedder = embedder or create_embedder(settings)

    @property
    def model(self) -> ModelId:
        return self.embedder.model

    def load(self, path: Path) -> RgbImage:
        return load_image(
            path,
            max_image_bytes=self.settings.max_image_bytes,
            max_image_pixels=self.settings.max_image_pixels,
            max_decode_bytes=self.settings.max_decode_bytes,
        )

    def analyse(self, image: RgbImage, *, probe: bool = False) -> ImageAnalysis:
        """Every face of ``image``, largest first; rejected faces carry their reason. A
        ``probe`` (a photo to search with) is searched with ``probe_detect_upsample_times``."""
        height, width = image.shape[:2]
        faces: list[AnalysedFace] = []
        chips = []
        detector = self.probe_detector if probe else self.detector
        for rank, detection in enumerate(detector.detect(image)):
            aligned = self.aligner.align(image, detection.box)
            quality = assess(
                detection,
                aligned.chip,
                min_face_size_px=self.settings.min_face_size_px,
                min_sharpness=self.settings.min_sharpness,
                min_detector_score=self.settings.min_detector_score,
            )
            if quality.accepted and rank >= self.settings.max_faces_per_image:
                quality = replace(quality, rejection_reason=TOO_MANY_FACES)
            faces.append(AnalysedFace(detection, aligned.landmarks, quality, embedding=None))
            if quality.accepted:
                chips.append(aligned.chip)
        embeddings = iter(self.embedder.embed(chips))
        faces = [replace(f, embedding=next(embeddings)) if f.quality.accepted else f for f in faces]
        return ImageAnalysis(width=width, height=height, faces=faces)

    def analyse_file(self, path: Path) -> ImageAnalysis:
        return self.analyse(self.load(path))
