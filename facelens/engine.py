"""The engine: the pipeline, the store and the index composed behind the public API.

The store is the source of truth. Every write goes to the store first and then to the index;
when the process dies between the two, ``repair_index`` (run on every open) brings the index
back in line with the store: faces missing from the index are added from their stored
embeddings, ids the store no longer holds are removed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from facelens.config import Settings
from facelens.decode import RgbImage, decode_image, read_image_bytes
from facelens.embed import l2_normalise, similarity
from facelens.errors import (
    InvalidArgumentError,
    ModelMismatchError,
    NoFaceFoundError,
    NotFoundError,
)
from facelens.index import IndexOptions, VectorIndex, create_index
from facelens.ingest import AnalysedFile, analyse_files, default_workers, discover, read_files
from facelens.pipeline import FacePipeline
from facelens.store import MetadataStore, create_store
from facelens.types import (
    AnalysedFace,
    IdArray,
    ImageAnalysis,
    IngestFailure,
    IngestReport,
    Match,
    ModelId,
    Person,
    PersonSearchResult,
    ProbeFaceMatches,
    Provenance,
    SearchResult,
    Stats,
    VerifyResult,
)

#: An image given to ``search`` or ``verify``: a path, encoded bytes, or an RGB uint8 array.
ImageInput = str | Path | bytes | RgbImage
ProgressCallback = Callable[[int, int], None]

log = logging.getLogger(__name__)

INDEX_MODEL_KEY = "index_model"
#: How the approximate index was last built (JSON), so a restart or rebuild reuses it.
INDEX_PARAMS_KEY = "index_params"
#: Write the index to disk after this many ingested images, so a crash costs little repair.
PERSIST_EVERY_IMAGES = 500


@dataclass(frozen=True, slots=True)
class IndexRepair:
    added: int
    removed: int


class Engine:
    """Open with ``facelens.open(path)``. Not safe for concurrent use from several threads."""

    def __init__(self, settings: Settings, *, pipeline: FacePipeline | None = None) -> None:
        self.settings = settings
        self.pipeline = pipeline or FacePipeline(settings)
        self.store: MetadataStore = create_store(settings)
        self.model: ModelId = self.pipeline.model
        self._claim_model()
        self.index: VectorIndex = create_index(
            settings.index_backend,
            self.model,
            settings.data_dir / "index",
            self._index_options(),
        )
        self.last_repair = self.repair_index()
        self._persisted_index_params = self.index.params()

    def _index_options(self) -> IndexOptions:
        recorded = self.store.get_meta(INDEX_PARAMS_KEY)
        s = self.settings
        return IndexOptions(
            ann_min_faces=s.ann_min_faces,
            ann_nlist=s.ann_nlist,
            ann_pq_subquantizers=s.ann_pq_subquantizers,
            ann_nprobe=s.ann_nprobe,
            ann_rerank_candidates=s.ann_rerank_candidates,
            ann_train_faces=s.ann_train_faces,
            ann_max_dead_share=s.ann_max_dead_share,
            recorded_params=json.loads(recorded) if recorded else None,
        )

    def _persist_index(self) -> None:
        """Write the index, and record in the store how its approximate tier was built."""
        self.index.persist()
        params = self._persisted_index_params = self.index.params()
        if params.get("kind") == "ivfpq":
            described = json.dumps(params, sort_keys=True)
            if self.store.get_meta(INDEX_PARAMS_KEY) != described:
                self.store.set_meta(INDEX_PARAMS_KEY, described)

    # --- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Waits for a background index build to be swapped in, and keeps its work."""
        if not self.index.wait_for_build(0):
            log.warning("waiting for the approximate index build to finish")
            self.index.wait_for_build()
        if self.index.params() != self._persisted_index_params:
            self._persist_index()
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _claim_model(self) -> None:
        """One engine, one embedding model: refuse to mix another model's embeddings in."""
        held = self.store.get_meta(INDEX_MODEL_KEY)
        if held is None:
            self.store.set_meta(INDEX_MODEL_KEY, str(self.model))
        elif held != str(self.model):
            raise ModelMismatchError(
                f"{self.settings.data_dir} holds embeddings of {held}, but this pipeline makes "
                f"{self.model}; open it with the same model, or use another data folder"
            )

    def repair_index(self) -> IndexRepair:
        """Make the index hold exactly the store's accepted faces (the store wins)."""
        stored = self.store.indexed_face_ids(self.model)
        indexed = self.index.ids()
        extra = np.setdiff1d(indexed, stored, assume_unique=True)
        missing = np.setdiff1d(stored, indexed, assume_unique=True)
        removed = self.index.remove(extra)
        added = 0
        for ids, vectors in self.store.embeddings(self.model, face_ids=missing.tolist()):
            self.index.add(ids, vectors)
            added += len(ids)
        if removed or added:
            log.warning(
                "index repaired from the store: %d faces added, %d stale ids removed",
                added,
                removed,
            )
            self._persist_index()
        return IndexRepair(added=added, removed=removed)

    def rebuild_index(self) -> int:
        """Throw the index away and build it again from the store; returns faces indexed."""
        self.index.clear()
        with self.index.bulk_load():
            for ids, vectors in self.store.embeddings(self.model):
                self.index.add(ids, vectors)
        self.index.wait_for_build()
        self._persist_index()
        return self.index.count()

    # --- ingest -------------------------------------------------------------------------

    def ingest(
        self,
        paths: Iterable[str | Path],
        collection: str,
        *,
        provenance: Provenance | None = None,
        workers: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Ingest image files and folders (recursively) into ``collection``.

        Files whose content is already in the collection are skipped; a file that fails is
        reported in ``IngestReport.failures`` and the rest go on.
        """
        if not collection.strip():
            raise InvalidArgumentError("the collection name must not be empty")
        started = time.perf_counter()
        files = discover(Path(p) for p in paths)
        report = IngestReport(collection=collection, images_seen=len(files))
        self.store.ensure_collection(collection)
        known = self.store.known_image_hashes(collection)
        worker_count = workers or default_workers(self.settings)
        since_persist = 0
        done = 0
        try:
            for outcome in analyse_files(
                read_files(files, self.settings, known), self.settings, worker_count, self.pipeline
            ):
                if outcome is None:
                    report.duplicates_skipped += 1
                elif isinstance(outcome, IngestFailure):
                    report.failures.append(outcome)
                else:
                    since_persist += self._store_analysed(outcome, collection, provenance, report)
                    if since_persist >= PERSIST_EVERY_IMAGES:
                        self._persist_index()
                        since_persist = 0
                done += 1
                if progress is not None:
                    progress(done, len(files))
        finally:
            # Also on interrupt: what is stored is indexed and persisted; a rerun resumes.
            self._persist_index()
            report.elapsed_s = time.perf_counter() - started
        return report

    def _store_analysed(
        self,
        analysed: AnalysedFile,
        collection: str,
        provenance: Provenance | None,
        report: IngestReport,
    ) -> int:
        if isinstance(analysed.outcome, IngestFailure):
            report.failures.append(analysed.outcome)
            return 0
        analysis = analysed.outcome
        added = self.store.add_image(
            collection=collection,
            location=analysed.location,
            sha256=analysed.sha256,
            analysis=analysis,
            provenance=provenance or Provenance(),
        )
        if added is None:
            report.duplicates_skipped += 1
            return 0
        if len(added.face_ids):
            self.index.add(added.face_ids, added.vectors)
        report.images_ingested += 1
        report.faces_indexed += len(added.face_ids)
        for face in analysis.faces:
            if face.quality.rejection_reason is not None:
                reason = face.quality.rejection_reason
                report.faces_rejected[reason] = report.faces_rejected.get(reason, 0) + 1
        return 1

    # --- search and verify --------------------------------------------------------------

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
            )
        array = np.asarray(image)
        if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
            raise InvalidArgumentError(
                f"an image array must be RGB uint8 of shape (H, W, 3), got {array.dtype} "
                f"{array.shape}"
            )
        return np.ascontiguousarray(array)

    def _probe_faces(
        self, image: ImageInput, what: str
    ) -> tuple[ImageAnalysis, list[AnalysedFace]]:
        decoded = self._decode(image)
        analysis = self.pipeline.analyse(decoded, probe=True)
        if (
            not analysis.accepted_faces
            and self.pipeline.probe_detector is not self.pipeline.detector
        ):
            analysis = self.pipeline.analyse(decoded)  # small faces: the ingest detector
        accepted = analysis.accepted_faces
        if not accepted:
            if analysis.faces:
                reasons = ", ".join(
                    sorted({f.quality.rejection_reason or "" for f in analysis.faces})
                )
                raise NoFaceFoundError(
                    f"{what}: {len(analysis.faces)} face(s) found but none usable ({reasons}); "
                    "use a sharper photo where the face is larger"
                )
            raise NoFaceFoundError(
                f"{what}: no face found; use a photo where the face is clearly visible, or raise "
                "FACELENS_DETECT_UPSAMPLE_TIMES to find smaller faces"
            )
        return analysis, accepted

    def search(
        self,
        image: ImageInput,
        top_k: int | None = None,
        threshold: float | None = None,
        collections: Sequence[str] | None = None,
    ) -> SearchResult:
        """For every usable face in ``image``, the ``top_k`` most similar gallery faces, best
        first, each flagged ``is_match`` when its similarity is at least ``threshold``."""
        top_k = self.settings.default_top_k if top_k is None else top_k
        threshold = self.settings.match_threshold if threshold is None else threshold
        if top_k <= 0:
            raise InvalidArgumentError(f"top_k must be at least 1, got {top_k}")
        if not -1.0 <= threshold <= 1.0:
            raise InvalidArgumentError(f"threshold must be in [-1, 1], got {threshold}")
        analysis, faces = self._probe_faces(image, "probe image")
        embeddings = [f.embedding for f in faces if f.embedding is not None]
        for embedding in embeddings:
            if embedding.model != self.model:
                raise ModelMismatchError(
                    f"probe embedded by {embedding.model}, index holds {self.model}"
                )
        allowed = self._face_ids_in(collections)
        queries = np.stack([e.vector for e in embeddings])
        scores, ids = self.index.search(queries, top_k, allowed_ids=allowed)
        results = [
            ProbeFaceMatches(
                probe_box=face.box,
                matches=matches,
                probe_sha256=hashlib.sha256(embedding.vector.tobytes()).hexdigest(),
            )
            for face, embedding, matches in zip(
                faces, embeddings, self._matches(scores, ids, threshold), strict=True
            )
        ]
        rejected = [f.quality for f in analysis.faces if not f.accepted]
        return SearchResult(
            threshold=threshold, model=self.model, faces=results, faces_rejected=rejected
        )

    def _face_ids_in(self, collections: Sequence[str] | None) -> IdArray | None:
        """The indexed faces of ``collections``; None (all faces) when none are named."""
        if not collections:
            return None
        return self.store.face_ids_in_collections(list(collections), self.model)

    def _matches(
        self, scores: np.ndarray, ids: np.ndarray, threshold: float, skip: set[int] | None = None
    ) -> list[list[Match]]:
        """Each row of an index answer as matches with their sources, best first."""
        records = self.store.face_records(sorted({int(i) for i in ids.ravel() if i >= 0}))
        return [
            [
                Match(
                    face_id=record.face_id,
                    similarity=float(score),
                    is_match=bool(score >= threshold),
                    box=record.box,
                    image_id=record.image_id,
                    image_location=record.image_location,
                    collection=record.collection,
                    person_id=record.person_id,
                    person_name=record.person_name,
                    provenance=record.provenance,
                )
                for score, face_id in zip(row_scores, row_ids, strict=True)
                if face_id >= 0
                and int(face_id) not in (skip or set())
                and (record := records.get(int(face_id))) is not None
            ]
            for row_scores, row_ids in zip(scores, ids, strict=True)
        ]

    def search_person(
        self,
        person_id: int,
        top_k: int | None = None,
        threshold: float | None = None,
        collections: Sequence[str] | None = None,
    ) -> PersonSearchResult:
        """Faces like a named person's (the mean of their faces), other than theirs."""
        top_k = self.settings.default_top_k if top_k is None else top_k
        threshold = self.settings.match_threshold if threshold is None else threshold
        person = self.person(person_id)
        own = set(person.face_ids)
        vectors = [
            v for _, batch in self.store.embeddings(self.model, face_ids=sorted(own)) for v in batch
        ]
        if not vectors:
            raise NoFaceFoundError(f"person {person_id} ({person.name}) has no usable face")
        query = l2_normalise(np.mean(vectors, axis=0, keepdims=True).astype(np.float32))
        allowed = self._face_ids_in(collections)
        scores, ids = self.index.search(query, top_k + len(own), allowed_ids=allowed)
        matches = self._matches(scores, ids, threshold, skip=own)[0][:top_k]
        return PersonSearchResult(
            person=person,
            threshold=threshold,
            model=self.model,
            matches=matches,
            query_sha256=hashlib.sha256(query.tobytes()).hexdigest(),
        )

    def verify(
        self, image_a: ImageInput, image_b: ImageInput, threshold: float | None = None
    ) -> VerifyResult:
        """Are the main (largest) faces of the two images the same person?"""
        threshold = self.settings.match_threshold if threshold is None else threshold
        _, faces_a = self._probe_faces(image_a, "first image")
        _, faces_b = self._probe_faces(image_b, "second image")
        a, b = faces_a[0], faces_b[0]
        assert a.embedding is not None and b.embedding is not None
        score = similarity(a.embedding, b.embedding)
        return VerifyResult(
            same_person=score >= threshold,
            similarity=score,
            threshold=threshold,
            box_a=a.box,
            box_b=b.box,
            model=self.model,
        )

    # --- persons ------------------------------------------------------------------------

    def enrol(
        self, name: str, photos: Iterable[str | Path], *, collection: str = "enrolment"
    ) -> Person:
        """Create (or extend) the person ``name`` with the main face of each photo.

        Photos are ingested into ``collection``; a photo already there is not stored twice.
        """
        if not name.strip():
            raise InvalidArgumentError("a person needs a non-empty name")
        face_ids = [self._enrolment_face(Path(photo), name, collection) for photo in photos]
        person_id = self.store.get_or_create_person(name)
        self.store.assign_faces(person_id, face_ids)
        return self.person(person_id)

    def _enrolment_face(self, photo: Path, name: str, collection: str) -> int:
        """Store ``photo`` (unless already stored) and return the id of its largest face."""
        data = read_image_bytes(photo, self.settings.max_image_bytes)
        sha256 = hashlib.sha256(data).hexdigest()
        ids = self.store.image_face_ids(collection, sha256)
        if len(ids) == 0:
            analysis, _ = self._probe_faces(data, str(photo))
            added = self.store.add_image(
                collection=collection,
                location=str(photo.resolve()),
                sha256=sha256,
                analysis=analysis,
                provenance=Provenance(),
            )
            if added is not None and len(added.face_ids):
                self.index.add(added.face_ids, added.vectors)
                self._persist_index()
            ids = self.store.image_face_ids(collection, sha256)
        if len(ids) == 0:
            raise NoFaceFoundError(
                f"{photo}: no usable face to enrol; use a clear, frontal photo of {name}"
            )
        return int(ids[0])  # faces are stored largest first: the subject of the photo

    def assign(self, person_name: str, face_ids: Sequence[int]) -> Person:
        person_id = self.store.get_or_create_person(person_name)
        self.store.assign_faces(person_id, list(face_ids))
        return self.person(person_id)

    def persons(self) -> list[Person]:
        return self.store.persons()

    def person(self, person_id: int) -> Person:
        for person in self.store.persons():
            if person.id == person_id:
                return person
        raise NotFoundError(f"no person with id {person_id}")

    # --- deletion -----------------------------------------------------------------------

    def delete(
        self,
        *,
        image: int | None = None,
        face: int | None = None,
        person: int | None = None,
        collection: str | None = None,
    ) -> int:
        """Delete one thing (and its faces) from the store and the index; returns how many
        indexed faces went."""
        given = [x for x in (image, face, person, collection) if x is not None]
        if len(given) != 1:
            raise InvalidArgumentError("name exactly one of image, face, person or collection")
        if image is not None:
            removed = self.store.delete_images([image])
        elif face is not None:
            removed = self.store.delete_faces([face])
        elif person is not None:
            removed = self.store.delete_person(person)
        else:
            assert collection is not None
            removed = self.store.delete_collection(collection)
        self.index.remove(removed)
        self._persist_index()
        # Ids only: never log images or embeddings.
        log.info("deleted %d indexed faces: %s", len(removed), removed.tolist())
        return len(removed)

    # --- stats --------------------------------------------------------------------------

    def stats(self) -> Stats:
        counts = self.store.counts()
        return Stats(
            collections=counts.collections,
            images=counts.images,
            faces_indexed=counts.faces_accepted,
            faces_rejected=counts.faces_rejected,
            persons=counts.persons,
            index_count=self.index.count(),
            model=self.model,
            store_backend=self.store.backend,
            index_backend=self.index.backend,
            index_params=self.index.params(),
        )
