"""The face pipeline: decode -> detect -> align -> quality -> embed, composed from its stages."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from facelens.config import Settings
from facelens.pipeline.align import Aligner, make_aligner
from facelens.pipeline.decode import RgbImage, load_image
from facelens.pipeline.detect import Detector, create_detector
from facelens.pipeline.embed.base import Embedder
from facelens.pipeline.embed.registry import create_embedder
from facelens.pipeline.quality import TOO_MANY_FACES, assess
from facelens.pipeline.turns import TURNS_DEGREES, face_back, turned
from facelens.types import AnalysedFace, Detection, ImageAnalysis, ModelId


@dataclass(frozen=True, slots=True)
class PreparedImage:
    """An image's faces found, aligned and checked, waiting for their embeddings: ``chips``
    holds the aligned chip of each accepted face, in the order of ``faces``."""

    width: int
    height: int
    faces: list[AnalysedFace]
    chips: list[RgbImage]
    #: Clockwise turn that found the faces (``pipeline.turns``); boxes are on the image as given.
    turned_degrees: int = 0


class FacePipeline:
    """Finds, aligns, checks and embeds every face of an image. Models load on first use.

    One instance analyses one image at a time (dlib's detector and network keep per-call
    state, so ``analyse`` holds the instance's lock); threads that analyse in parallel use
    one instance each (``PipelinePool``)."""

    def __init__(
        self,
        settings: Settings,
        *,
        detector: Detector | None = None,
        aligner: Aligner | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings
        self.detector = detector or create_detector(settings)
        self.probe_detector = self.detector
        probe_settings = settings.model_copy(
            update={
                "detect_upsample_times": settings.probe_detect_upsample_times,
                "mtcnn_min_face_size_px": settings.probe_mtcnn_min_face_size_px,
            }
        )
        if detector is None and probe_settings != settings:
            probe_detector = create_detector(probe_settings)
            # A detector the probe settings do not change is the same one: never run it twice.
            if probe_detector.description != self.detector.description:
                self.probe_detector = probe_detector
        self.embedder = embedder or create_embedder(settings)
        # The chip template is the embedder's: each model was trained on its own.
        self.aligner = aligner or make_aligner(self.embedder.alignment, settings.chip_padding)
        self._lock = threading.Lock()

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
        ``probe`` (a photo to search with) is searched with the probe detector settings
        (``probe_detect_upsample_times``, ``probe_mtcnn_min_face_size_px``) and embedded with
        ``probe_jitters``."""
        with self._lock:
            return self._embedded([self._prepare(image, probe=probe)], probe=probe)[0]

    def analyse_probe(self, image: RgbImage) -> ImageAnalysis:
        """A search or verify photo: as ``analyse(probe=True)``; when that finds no usable
        face, looked at again with the ingest detector (which finds smaller faces), and then
        turned a quarter, three quarters and half way round (``ImageAnalysis.turned_degrees``
        says which turn found it; boxes are on the photo as given)."""
        with self._lock:
            return self._embedded([self._find(image, probe=True, try_turns=True)], probe=True)[0]

    def analyse_detections(self, image: RgbImage, detections: list[Detection]) -> ImageAnalysis:
        """Align, check and embed faces already found in ``image``, in the order given (the
        first ``max_faces_per_image`` accepted ones are kept). A detection's own landmarks,
        if it has them, are aligned on instead of the shape predictor's."""
        with self._lock:
            return self._embedded([self._faces(image, detections)])[0]

    def prepare(self, image: RgbImage) -> PreparedImage:
        """Every face of ``image`` found, aligned and checked, not yet embedded: what an
        ingest worker does, so that the chips of many images are embedded in one batch.
        With ``ingest_try_turns``, an image without a usable face is tried turned too."""
        with self._lock:
            return self._find(image, probe=False, try_turns=self.settings.ingest_try_turns)

    def prepare_probe(self, image: RgbImage) -> PreparedImage:
        """``analyse_probe`` but for the embedding: what a batch search does for each probe,
        so that the chips of many probes are embedded together (``embed_prepared(probe=True)``)."""
        with self._lock:
            return self._find(image, probe=True, try_turns=True)

    def embed_prepared(
        self, prepared: list[PreparedImage], *, probe: bool = False
    ) -> list[ImageAnalysis]:
        """The analyses of ``prepared`` images, their chips embedded together: the network
        runs on batches of ``embed_batch_size`` chips from many images, not on one image's.
        ``probe``: embedded as search photos are (``probe_jitters``)."""
        with self._lock:
            return self._embedded(prepared, probe=probe)

    def _find(self, image: RgbImage, *, probe: bool, try_turns: bool) -> PreparedImage:
        prepared = self._upright(image, probe=probe)
        if prepared.chips or not try_turns:
            return prepared
        height, width = image.shape[:2]
        for degrees in TURNS_DEGREES:
            found = self._upright(turned(image, degrees), probe=probe)
            if found.chips:
                faces = [face_back(face, degrees, width, height) for face in found.faces]
                return PreparedImage(width, height, faces, found.chips, turned_degrees=degrees)
        return prepared

    def _upright(self, image: RgbImage, *, probe: bool) -> PreparedImage:
        prepared = self._prepare(image, probe=probe)
        if probe and not prepared.chips and self.probe_detector is not self.detector:
            prepared = self._prepare(image, probe=False)  # small faces: the ingest detector
        return prepared

    def _prepare(self, image: RgbImage, *, probe: bool) -> PreparedImage:
        detector = self.probe_detector if probe else self.detector
        return self._faces(image, detector.detect(image))

    def _faces(self, image: RgbImage, detections: list[Detection]) -> PreparedImage:
        height, width = image.shape[:2]
        faces: list[AnalysedFace] = []
        chips = []
        for rank, detection in enumerate(detections):
            aligned = self.aligner.align(image, detection.box, detection.landmarks)
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
        return PreparedImage(width=width, height=height, faces=faces, chips=chips)

    def _embedded(
        self, prepared: list[PreparedImage], *, probe: bool = False
    ) -> list[ImageAnalysis]:
        # A probe is one photo searched with: jittering it costs little; 0 keeps embed_jitters.
        jitters = self.settings.probe_jitters if probe and self.settings.probe_jitters else None
        chips = [chip for p in prepared for chip in p.chips]
        embeddings = iter(self.embedder.embed(chips, jitters=jitters))
        return [
            ImageAnalysis(
                width=p.width,
                height=p.height,
                turned_degrees=p.turned_degrees,
                faces=[
                    replace(f, embedding=next(embeddings)) if f.quality.accepted else f
                    for f in p.faces
                ],
            )
            for p in prepared
        ]

    def analyse_file(self, path: Path) -> ImageAnalysis:
        return self.analyse(self.load(path))


class PipelinePool:
    """Pipelines for threads that analyse images at once (the server's probes): each borrower
    gets one to itself. Starts with ``first`` and makes more, up to ``size``, only when every
    one is busy (each holds its own models, about 30 MB)."""

    def __init__(self, first: FacePipeline, size: int = 0) -> None:
        self.settings = first.settings
        self.size = size or os.cpu_count() or 1
        self._idle = [first]
        self._made = 1
        self._ready = threading.Condition()

    @contextmanager
    def borrow(self) -> Iterator[FacePipeline]:
        with self._ready:
            while not self._idle and self._made >= self.size:
                self._ready.wait()
            if self._idle:
                pipeline = self._idle.pop()
            else:
                self._made += 1
                pipeline = None
        if pipeline is None:
            try:
                pipeline = FacePipeline(self.settings)
            except BaseException:
                with self._ready:
                    self._made -= 1
                    self._ready.notify()
                raise
        try:
            yield pipeline
        finally:
            with self._ready:
                self._idle.append(pipeline)
                self._ready.notify()
