"""Re-embedding a data folder's faces with another model (``facelens reindex --model``).

Every accepted face is embedded again from its source image (the stored location, checked
against the stored sha256), on its stored box and landmarks, aligned in the new model's
template, and staged in the store by face and model. A rerun stages only what is missing.
Only when every accepted face is staged does the folder switch: in one store transaction the
faces take their new embeddings and model, the folder's claimed model changes and staging is
cleared; then the index is rebuilt. Face ids do not change, so persons and assignments stay.

The switch is refused while the opt-out list holds templates (of the current model: they
cannot be remade without photos facelens never keeps, and one of another model would let the
person's faces back in) or a subject request is pending.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facelens.config import Settings
from facelens.engine.index_sync import IndexSync
from facelens.engine.state import (
    INDEX_MODEL_KEY,
    INDEX_PARAMS_KEY,
    MODEL_SOURCE_KEY,
    SYSTEM_ACTOR,
    ProgressCallback,
    log,
)
from facelens.errors import FacelensError, InvalidArgumentError, ReindexRefusedError
from facelens.index import create_index
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.decode import decode_image, read_image_bytes
from facelens.store.records import ImageRecord
from facelens.types import Box, ModelId

REINDEX_AUDIT_ACTION = "reindex"
#: The built-in embedders ``--model`` may name instead of an ONNX file.
BUILT_IN_MODELS = ("dlib", "onnx")
_PAGE = 500


@dataclass(frozen=True, slots=True)
class ReindexFailure:
    """An image whose faces could not be re-embedded, and why."""

    image_id: int
    location: str
    face_ids: list[int]
    reason: str


@dataclass(slots=True)
class ReindexReport:
    """What a reindex did: faces staged now and before, failures, and whether it switched."""

    source_model: str
    target_model: str
    faces: int = 0  # accepted faces in the data folder
    staged_now: int = 0
    already_staged: int = 0
    failures: list[ReindexFailure] = field(default_factory=list)
    switched: bool = False
    #: The environment settings that open the folder once switched (its model's).
    open_with: dict[str, str] = field(default_factory=dict)

    @property
    def faces_failed(self) -> int:
        return sum(len(f.face_ids) for f in self.failures)


def model_settings(settings: Settings, model: str | Path, description: Path | None) -> Settings:
    """``settings`` with the embedder ``model`` names: a built-in name, or an ONNX file (its
    description ``description``, or the ``.json`` beside it)."""
    if str(model) in BUILT_IN_MODELS:
        if description is not None:
            raise InvalidArgumentError("a description goes with an ONNX file, not a built-in model")
        update: dict[str, object] = {
            "embedder": str(model),
            "embed_model_path": None,
            "embed_model_description_path": None,
        }
    else:
        update = {
            "embedder": "onnx_file",
            "embed_model_path": Path(model).expanduser().resolve(),
            "embed_model_description_path": description and description.expanduser().resolve(),
        }
    return settings.model_copy(update=update)


def model_source(settings: Settings) -> dict[str, str]:
    """The settings that make a model, as recorded in the data folder."""
    source: dict[str, str] = {"embedder": settings.embedder}
    if settings.embed_model_path is not None:
        source["embed_model_path"] = str(settings.embed_model_path)
    if settings.embed_model_description_path is not None:
        source["embed_model_description_path"] = str(settings.embed_model_description_path)
    return source


def environment(source: dict[str, str]) -> dict[str, str]:
    """``model_source``'s settings as the environment variables that set them."""
    return {f"FACELENS_{key.upper()}": value for key, value in sorted(source.items())}


class Reindex(IndexSync):
    """Switching a data folder to another embedding model."""

    def reindex(
        self,
        model: str | Path,
        *,
        description: Path | None = None,
        actor: str = SYSTEM_ACTOR,
        progress: ProgressCallback | None = None,
    ) -> ReindexReport:
        """Re-embed every accepted face with ``model`` (``"dlib"``, ``"onnx"`` or an ONNX
        file) and switch the folder to it once every face is staged (see the module). Faces
        whose source is missing, unreadable or changed are listed in the report, and then
        nothing switches: restore them (or delete the faces) and run it again to resume.
        ``ReindexRefusedError`` (audited) while opt-outs or pending requests forbid a switch."""
        target_settings = model_settings(self.settings, model, description)
        target = FacePipeline(target_settings)
        if target.model == self.model:
            raise InvalidArgumentError(f"{self.settings.data_dir} holds {self.model} already")
        self._check_switch_allowed(target.model, actor)
        report = ReindexReport(str(self.model), str(target.model))
        report.already_staged = len(self.store.staged_face_ids(target.model))
        self._stage(target, report, progress)
        if not report.failures:
            with self.folder_lock.exclusive("switching the embedding model"):
                self._check_switch_allowed(target.model, actor)
                self._stage(target, report, None)  # faces ingested meanwhile
                if not report.failures:
                    self._switch(target_settings, target)
                    report.switched = True
                    report.open_with = environment(model_source(target_settings))
        self.audit(
            actor,
            REINDEX_AUDIT_ACTION,
            str(target.model),
            {
                "from": report.source_model,
                "to": report.target_model,
                "faces": report.faces,
                "staged": report.staged_now,
                "faces_failed": report.faces_failed,
                "images_failed": [f.image_id for f in report.failures],
                "switched": report.switched,
            },
        )
        return report

    def _check_switch_allowed(self, target: ModelId, actor: str) -> None:
        problem = None
        opted_out = self.store.suppression_count()
        if opted_out:
            problem = (
                f"the opt-out list holds {opted_out} templates of {self.model}; they cannot be "
                "remade for another model without the people's photos, which facelens never "
                f"keeps, so this data folder keeps its model. To use {target}, ingest into a "
                "new data folder, where the people who opted out must opt out again"
            )
        pending = [r.id for r in self.store.subject_requests() if r.status == "pending"]
        if problem is None and pending:
            problem = (
                f"subject requests {pending} are pending and hold templates of {self.model}; "
                "complete them (facelens subject review / confirm), then reindex"
            )
        if problem is not None:
            refusal = ReindexRefusedError(f"reindex to {target} refused: {problem}")
            self.record_refusal(refusal, actor)
            raise refusal

    def _stage(
        self, target: FacePipeline, report: ReindexReport, progress: ProgressCallback | None
    ) -> None:
        """Stage every accepted face not yet staged; failures go in ``report``."""
        staged = set(self.store.staged_face_ids(target.model).tolist())
        total = self.store.counts().faces_accepted
        report.faces, report.failures = total, []
        done = 0
        for image in self._images():
            wanted = [i for i in image.face_ids if i not in staged]
            if wanted:
                failure = self._stage_image(target, image, wanted)
                if failure is None:
                    report.staged_now += len(wanted)
                    staged.update(wanted)
                else:
                    report.failures.append(failure)
            done += len(image.face_ids)
            if progress is not None:
                progress(done, total)

    def _images(self) -> Iterator[ImageRecord]:
        """Every image with accepted faces, a page at a time (constant memory)."""
        offset = 0
        while page := self.store.images(offset=offset, limit=_PAGE):
            offset += len(page)
            yield from (image for image in page if image.face_ids)

    def _stage_image(
        self, target: FacePipeline, image: ImageRecord, face_ids: list[int]
    ) -> ReindexFailure | None:
        def failed(reason: str) -> ReindexFailure:
            return ReindexFailure(image.image_id, image.location, face_ids, reason)

        s = self.settings
        try:
            data = read_image_bytes(Path(image.location), s.max_image_bytes)
        except FacelensError as error:
            return failed(f"missing or unreadable: {error}")
        if hashlib.sha256(data).hexdigest() != image.sha256:
            return failed("changed since it was ingested (its sha256 differs)")
        try:
            pixels = decode_image(
                data,
                max_image_bytes=s.max_image_bytes,
                max_image_pixels=s.max_image_pixels,
                max_decode_bytes=s.max_decode_bytes,
                name=image.location,
            )
        except FacelensError as error:
            return failed(f"does not decode: {error}")
        records = self.store.face_records(face_ids)
        landmarks = self.store.face_landmarks(face_ids)
        chips = []
        try:
            for face_id in face_ids:
                box: Box = records[face_id].box
                points = np.asarray(landmarks.get(face_id, []), dtype=np.float32)
                # No five stored points (never expected): the predictor finds them in the box.
                given = points if points.shape == (5, 2) else None
                chips.append(target.aligner.align(pixels, box, given).chip)
        except ValueError as error:  # landmarks no similarity transform fits
            return failed(f"cannot be aligned: {error}")
        vectors = np.stack([e.vector for e in target.embedder.embed(chips)])
        self.store.stage_embeddings(target.model, face_ids, vectors)
        return None

    def _switch(self, target_settings: Settings, target: FacePipeline) -> None:
        """Move the staged embeddings in, and the engine onto the new model and index."""
        self.index.wait_for_build()
        faces = self.store.switch_model(
            target.model,
            {
                INDEX_MODEL_KEY: str(target.model),
                MODEL_SOURCE_KEY: json.dumps(model_source(target_settings), sort_keys=True),
                INDEX_PARAMS_KEY: None,  # the approximate tier was built for the old vectors
            },
        )
        log.warning(
            "data folder switched from %s to %s (%d faces)", self.model, target.model, faces
        )
        self.settings, self.pipeline, self.model = target_settings, target, target.model
        self._suppressed = None
        self._reset_scoring()  # the cohort and calibration were of the old model's vectors
        self.index = create_index(
            target_settings.index_backend,
            target.model,
            target_settings.data_dir / "index",
            self._index_options(),
        )
        self._rebuild_index()
