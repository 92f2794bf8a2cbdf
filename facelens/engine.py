"""The engine: the pipeline, the store and the index composed behind the public API.

The store is the source of truth. Every write goes to the store first and then to the index;
when the process dies between the two, ``repair_index`` (run on every open) brings the index
back in line with the store: faces missing from the index are added from their stored
embeddings, ids the store no longer holds are removed.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import numpy as np
from sqlalchemy.exc import DatabaseError

from facelens.config import Settings
from facelens.errors import (
    ConsentRequiredError,
    InvalidArgumentError,
    ModelMismatchError,
    NoFaceFoundError,
    NoLegalBasisError,
    NotFoundError,
    QuarantinedTemplatesError,
    RefusedError,
    StoreDamagedError,
)
from facelens.index import IndexOptions, VectorIndex, create_index
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.batch import (
    AnalysedFile,
    analyse_bytes,
    analyse_files,
    default_workers,
    discover,
    failure,
    read_files,
)
from facelens.pipeline.decode import RgbImage, decode_image, read_image_bytes
from facelens.pipeline.embed.base import fused_template, l2_normalise, similarity
from facelens.privacy.audit import AUDIT_CHAIN_META, AuditCheck, AuditEntry, AuditKey, Checkpoint
from facelens.privacy.audit import verify as verify_chain
from facelens.privacy.fetch import (
    FetchOptions,
    ManifestEntry,
    fetch_image,
    new_client,
    read_manifest,
)
from facelens.privacy.policy import (
    CollectionPolicy,
    JurisdictionPolicy,
    LegalBasis,
    check_search_purpose,
)
from facelens.privacy.transparency import TransparencyReport, transparency_report
from facelens.security.accounts import Role, authenticate, create_account
from facelens.security.crypto import TemplateCipher, UnsetCipher, generate_key, write_key_file
from facelens.security.keys import (
    KEY_ID_META,
    KeySource,
    folder_id,
    load_audit_key,
    load_key,
    next_key_file,
    note_data_folder,
    own_key_file,
    reconcile,
)
from facelens.store import MetadataStore, create_store
from facelens.store.base import ErasedFaces, FaceRecord, ImageRecord
from facelens.store.lock import FolderLock
from facelens.types import (
    Account,
    AnalysedFace,
    Caller,
    Consent,
    FloatArray,
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
    SearchRecord,
    SearchResult,
    Stats,
    SubjectRequest,
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
#: SHA-256 of the jurisdiction policy file last seen, so that a change is logged once.
POLICY_META = "jurisdiction_policy_sha256"
#: Actor named in audit entries the engine writes by itself.
SYSTEM_ACTOR = "system"
#: Ingest names who stored which images in the audit log every this many stored images (and
#: at the end), so that a killed ingest leaves at most this many stored but unattributed.
ATTRIBUTE_EVERY_IMAGES = 16
#: The audit action of those entries.
INGEST_AUDIT_ACTION = "ingest"
#: Audit actions of the operations every door (Python, CLI, HTTP API) logs the same way.
SEARCH_AUDIT_ACTION = "search"
VERIFY_AUDIT_ACTION = "verify"
REFUSED_AUDIT_ACTION = "refused"
SOURCE_VIEW_AUDIT_ACTION = "source view"
#: Folders under the data folder whose files facelens wrote (uploads, fetched images): an image
#: record that goes takes its file along.
OWNED_FOLDERS = ("uploads", "fetched")


def _resolved(path: Path) -> str | None:
    """``path`` resolved, or None where it cannot be (a symlink loop: no file of ours)."""
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):
        return None


@dataclass(frozen=True, slots=True)
class _Enrolment:
    """A photo to enrol, analysed but not stored yet (``face_id`` when it already is)."""

    location: str
    sha256: str
    analysis: ImageAnalysis | None
    face_id: int | None


class _Attribution:
    """Who stored which images: written to the audit log in batches as they are stored."""

    def __init__(self, store: MetadataStore, actor: str | None, collection: str) -> None:
        self.store, self.actor, self.collection = store, actor, collection
        self.pending: list[int] = []

    def stored(self, image_id: int) -> None:
        self.pending.append(image_id)
        if len(self.pending) >= ATTRIBUTE_EVERY_IMAGES:
            self.flush()

    def flush(self) -> None:
        if self.actor is None or not self.pending:
            return
        self.store.append_audit(
            self.actor, INGEST_AUDIT_ACTION, self.collection, {"image_ids": self.pending}
        )
        self.pending = []


@dataclass(frozen=True, slots=True)
class KeyRotation:
    key_id: str  # the new key's fingerprint
    key_file: Path  # the folder's own key file, which now holds it
    shared_key_left: Path | None  # the shared key file the folder used before, left in place


@dataclass(frozen=True, slots=True)
class IndexRepair:
    added: int
    removed: int


class Engine:
    """Open with ``facelens.open(path)``. Not safe for concurrent use from several threads."""

    def __init__(self, settings: Settings, *, pipeline: FacePipeline | None = None) -> None:
        self.settings = settings
        # Held until ``close``: shared, exclusive while rotating, migrating or rebuilding.
        self.folder_lock = FolderLock(settings.data_dir)
        self.folder_lock.acquire_shared()
        try:
            self._open(pipeline)
        except DatabaseError as exc:
            self.folder_lock.release()
            raise StoreDamagedError(
                f"the store in {settings.data_dir} is damaged ({exc.orig or exc}); restore "
                "facelens.db from a backup, or run `facelens doctor` for details"
            ) from exc
        except BaseException:
            self.folder_lock.release()
            raise

    def _open(self, pipeline: FacePipeline | None) -> None:
        settings = self.settings
        self.pipeline = pipeline or FacePipeline(settings)
        # The store is opened before the key is known: which key is the folder's depends on
        # its id and recorded fingerprint, both in the store. Until then nothing is sealed.
        self.store: MetadataStore = create_store(
            settings,
            UnsetCipher(),
            guard=lambda: self.folder_lock.exclusive("upgrading the store's schema", wait_s=5),
        )
        self.folder_id = folder_id(self.store)
        note_data_folder(settings, self.folder_id)
        self.cipher = self._open_templates()
        self.audit_key: AuditKey = load_audit_key(settings, self.folder_id, self.store)
        self.store.audit_key = self.audit_key
        self.model: ModelId = self.pipeline.model
        self._claim_model()
        self.jurisdiction_policy = JurisdictionPolicy.load(settings.jurisdiction_policy_file)
        self._note_policy_change()
        self._suppressed: FloatArray | None = None  # the suppression list, opened, in memory
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
            cipher=self.cipher,
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
        try:
            if self.index.params() != self._persisted_index_params:
                self._persist_index()
            self.store.close()
        finally:
            self.folder_lock.release()

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

    def _open_templates(self) -> TemplateCipher:
        """The cipher of this data folder's templates (see ``facelens.security.keys``)."""
        recorded = self.store.get_meta(KEY_ID_META)
        source, key = load_key(self.settings, self.folder_id, recorded)
        own = own_key_file(self.settings, self.folder_id)
        cipher, self.key_source = reconcile(source, key, recorded, own)
        self.store.cipher = cipher
        if recorded is None:
            # A new data folder, or one from before templates were sealed: seal what it holds
            # (and record the key's fingerprint) in one transaction.
            sealed = self.store.reseal_templates(None, cipher)
            if sealed:
                log.warning("sealed %d templates stored in the clear by an older version", sealed)
        # Names, landmarks and paths an older version (before 0007) kept in the clear.
        identifying = self.store.seal_identifying_data()
        if identifying:
            log.warning("sealed %d identifying values stored in the clear", identifying)
        return cipher

    def rotate_key(self) -> KeyRotation:
        """Seal every template (store and index) with a new key, written to this folder's own
        key file. The old key is destroyed when it was the folder's own; a shared key file
        (other folders may use it) is left in place, so the old key is only gone once no
        folder uses it."""
        if self.settings.template_key is not None:
            raise InvalidArgumentError(
                "the key comes from FACELENS_TEMPLATE_KEY; rotation writes a new key file, so "
                "configure template_key_file instead"
            )
        with self.folder_lock.exclusive("rotating the key"):
            return self._rotate_key()

    def _rotate_key(self) -> KeyRotation:
        # A template that does not open cannot be re-sealed: refuse before anything changes.
        quarantined = self.store.scan_templates(self.model)
        if quarantined:
            raise QuarantinedTemplatesError(
                f"the stored templates of faces {quarantined} do not open (damaged); they "
                "cannot be re-sealed with a new key. Delete them first (facelens doctor "
                "--repair --delete-quarantined, or facelens delete --face ID), then rotate"
            )
        old = self.key_source
        path = own_key_file(self.settings, self.folder_id)
        new_key = generate_key()
        new = TemplateCipher(new_key)
        pending = next_key_file(path)
        write_key_file(pending, new_key)
        self.index.wait_for_build()
        self.store.reseal_templates(self.cipher, new)
        self.index.rekey(new)
        pending.replace(path)
        self.cipher = new
        self.key_source = KeySource(new, path)
        self._suppressed = None
        left = old.path if old.shared and old.path is not None else None
        if left is not None:
            log.warning(
                "the shared key file %s is left in place for the data folders still using it; "
                "the old key is only erased once none does",
                left,
            )
        return KeyRotation(new.key_id, path, left)

    # --- the audit log ------------------------------------------------------------------

    def verify_audit(self, checkpoint: Checkpoint | None = None) -> AuditCheck:
        """Check the keyed chain (and the log against ``checkpoint``, which is refused with
        ``AuditCheckpointError`` when altered or of another folder)."""
        if checkpoint is not None:
            checkpoint.check(self.audit_key, self.folder_id)
        return verify_chain(
            self.store.audit_entries(),
            self.audit_key,
            marker=self.store.get_meta(AUDIT_CHAIN_META),
            folder_id=self.folder_id,
            checkpoint=checkpoint,
        )

    def audit_checkpoint(self) -> Checkpoint:
        """The log's head now, MACed: save it apart from the data to verify against later."""
        return Checkpoint.make(self.audit_key, self.folder_id, self.store.audit_entries())

    def _note_policy_change(self) -> None:
        described = self.jurisdiction_policy.sha256 or "none"
        recorded = self.store.get_meta(POLICY_META)
        if recorded is None and described == "none":
            self.store.set_meta(POLICY_META, described)  # a new folder with no policy
        elif recorded != described:
            self.store.append_audit(
                SYSTEM_ACTOR,
                "policy change",
                str(self.settings.jurisdiction_policy_file or "no jurisdiction policy"),
                {
                    "sha256": self.jurisdiction_policy.sha256,
                    "consent_required_for": sorted(self.jurisdiction_policy.consent_required_for),
                    "search_forbidden_in": sorted(self.jurisdiction_policy.search_forbidden_in),
                },
            )
            self.store.set_meta(POLICY_META, described)

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
        """Throw the index away and build it again from the store; returns faces indexed.
        Templates that do not open are left out (quarantined)."""
        with self.folder_lock.exclusive("rebuilding the index"):
            return self._rebuild_index()

    def _rebuild_index(self) -> int:
        self.index.clear()
        with self.index.bulk_load():
            for ids, vectors in self.store.embeddings(self.model):
                self.index.add(ids, vectors)
        self.index.wait_for_build()
        self._persist_index()
        return self.index.count()

    # --- ingest -------------------------------------------------------------------------

    # --- collections and their legal basis ------------------------------------------------

    def create_collection(self, name: str, policy: CollectionPolicy) -> None:
        """A collection and why it may be processed; checked against the jurisdiction rules."""
        if not name.strip():
            raise InvalidArgumentError("the collection name must not be empty")
        self.jurisdiction_policy.check_ingest(name, policy)
        self.store.create_collection(name.strip(), policy)

    def set_collection_policy(self, name: str, policy: CollectionPolicy) -> None:
        self.jurisdiction_policy.check_ingest(name, policy)
        self.store.set_collection_policy(name, policy)

    def policy_for_ingest(self, collection: str) -> CollectionPolicy:
        """The collection's policy, when adding to it is allowed; refuses otherwise."""
        if collection not in self.store.collection_names():
            raise NoLegalBasisError(
                f"there is no collection {collection!r}; create it first with its legal basis, "
                "jurisdictions, purpose and retention period (facelens collection create)"
            )
        policy = self.store.collection_policy(collection)
        if policy is None:
            raise NoLegalBasisError(
                f"collection {collection!r} declares no legal basis, jurisdictions, purpose or "
                "retention period; declare them (facelens collection set-policy) before adding "
                "to it"
            )
        self.jurisdiction_policy.check_ingest(collection, policy)
        return policy

    def check_bulk_ingest(self, collection: str) -> CollectionPolicy:
        """Refuses unless images may be added to ``collection`` in bulk: it must declare a
        legal basis that the jurisdiction rules accept, and not rest on consent (there, faces
        enter only by enrolment against a consent record)."""
        policy = self.policy_for_ingest(collection)
        if policy.basis == LegalBasis.CONSENT:
            raise ConsentRequiredError(
                f"collection {collection!r} rests on consent: faces enter it only by enrolling "
                "a person against their consent record (facelens person add --consent ID)"
            )
        return policy

    def ingest(
        self,
        paths: Iterable[str | Path],
        collection: str,
        *,
        provenance: Provenance | None = None,
        workers: int | None = None,
        progress: ProgressCallback | None = None,
        actor: str | None = None,
    ) -> IngestReport:
        """Ingest image files and folders (recursively) into ``collection``.

        Files whose content is already in the collection are skipped; a file that fails is
        reported in ``IngestReport.failures`` and the rest go on. With ``actor``, the ids of
        the images stored are attributed to them in the audit log as they are stored (every
        ``ATTRIBUTE_EVERY_IMAGES``), so an ingest that is killed leaves few unattributed.
        """
        self.check_bulk_ingest(collection)
        started = time.perf_counter()
        unreadable: list[IngestFailure] = []
        files = discover((Path(p) for p in paths), unreadable)
        report = IngestReport(
            collection=collection, images_seen=len(files) + len(unreadable), failures=unreadable
        )
        known = self.store.known_image_hashes(collection)
        worker_count = workers or default_workers(self.settings)
        since_persist = 0
        done = 0
        attribution = _Attribution(self.store, actor, collection)
        try:
            for outcome in analyse_files(
                read_files(files, self.settings, known), self.settings, worker_count, self.pipeline
            ):
                if outcome is None:
                    report.duplicates_skipped += 1
                elif isinstance(outcome, IngestFailure):
                    report.failures.append(outcome)
                else:
                    since_persist += self._store_analysed(
                        outcome, collection, provenance, report, attribution
                    )
                    if since_persist >= PERSIST_EVERY_IMAGES:
                        self._persist_index()
                        since_persist = 0
                done += 1
                if progress is not None:
                    progress(done, len(files))
        finally:
            # Also on interrupt: what is stored is indexed, persisted and attributed; a rerun
            # resumes.
            self._persist_index()
            attribution.flush()
            report.elapsed_s = time.perf_counter() - started
        # facelens's own copies (uploads) of files that were refused, failed or suppressed:
        # linked to no image, erasure and retention could never reach them.
        self._remove_owned_files([location for f in files if (location := _resolved(f))])
        return report

    def ingest_manifest(
        self,
        manifest: str | Path,
        collection: str,
        *,
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Fetch exactly the image URLs a manifest lists (``facelens.privacy.fetch``: nothing else
        is ever fetched or followed) and ingest them, each with its page URL and fetch time as
        provenance. Bad rows, refused and failed URLs are reported; the rest go on. URLs
        already in the collection are not fetched again, so a rerun resumes."""
        self.check_bulk_ingest(collection)
        started = time.perf_counter()
        parsed = read_manifest(manifest)
        report = IngestReport(
            collection=collection,
            images_seen=len(parsed.entries) + len(parsed.problems),
            failures=list(parsed.problems),
        )
        options = FetchOptions(
            max_bytes=self.settings.max_image_bytes,
            timeout_s=self.settings.fetch_timeout_s,
            allowed_networks=tuple(
                ipaddress.ip_network(n) for n in self.settings.fetch_allowed_networks
            ),
            user_agent="facelens (fetches only the image URLs an operator lists)",
        )
        fetched_urls = self.store.known_origin_urls(collection)
        known = self.store.known_image_hashes(collection)
        try:
            with new_client(options) as client:
                for done, entry in enumerate(parsed.entries, start=1):
                    self._ingest_listed(
                        entry, collection, options, client, fetched_urls, known, report
                    )
                    if progress is not None:
                        progress(done, len(parsed.entries))
        finally:
            self._persist_index()
            report.elapsed_s = time.perf_counter() - started
        return report

    def _ingest_listed(
        self,
        entry: ManifestEntry,
        collection: str,
        options: FetchOptions,
        client: httpx.Client,
        fetched_urls: set[str],
        known: set[str],
        report: IngestReport,
    ) -> None:
        url = entry.image_url
        if url in fetched_urls:
            report.duplicates_skipped += 1
            return
        try:
            fetched = fetch_image(url, options, client)
        except RefusedError as exc:
            report.refusals[exc.rule] = report.refusals.get(exc.rule, 0) + 1
            report.failures.append(failure(url, exc))
            return
        except Exception as exc:  # one bad URL never aborts the batch
            report.failures.append(failure(url, exc))
            return
        if fetched.sha256 in known:
            report.duplicates_skipped += 1
            return
        known.add(fetched.sha256)
        # facelens's own copy of the fetched image: the source that results point to, and
        # erased with the image record.
        path = (self.settings.data_dir / "fetched" / fetched.sha256[:2] / fetched.sha256).resolve()
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".part")
            tmp.write_bytes(fetched.data)
            tmp.replace(path)
        analysed = analyse_bytes(self.pipeline, str(path), fetched.sha256, fetched.data)
        provenance = replace(entry.provenance(), fetched_at=fetched.fetched_at)
        if not self._store_analysed(analysed, collection, provenance, report):
            self._remove_owned_files([str(path)])  # not stored: keep no copy

    def _store_analysed(
        self,
        analysed: AnalysedFile,
        collection: str,
        provenance: Provenance | None,
        report: IngestReport,
        attribution: _Attribution | None = None,
    ) -> int:
        if isinstance(analysed.outcome, IngestFailure):
            report.failures.append(analysed.outcome)
            return 0
        analysis, suppressed = self._without_suppressed(analysed.outcome)
        report.faces_suppressed += suppressed
        if suppressed and not analysis.faces:
            return 0  # nothing but an opted-out person: keep no trace of the image
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
        if attribution is not None:
            attribution.stored(added.image_id)
        report.images_ingested += 1
        report.faces_indexed += len(added.face_ids)
        for face in analysis.faces:
            if face.quality.rejection_reason is not None:
                reason = face.quality.rejection_reason
                report.faces_rejected[reason] = report.faces_rejected.get(reason, 0) + 1
        return 1

    # --- the suppression list (people who opted out) ----------------------------------

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
        decoded = self._decode(image)
        analysis = pipeline.analyse(decoded, probe=True)
        if not analysis.accepted_faces and pipeline.probe_detector is not pipeline.detector:
            analysis = pipeline.analyse(decoded)  # small faces: the ingest detector
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
        *,
        purpose: str | None = None,
        case_ref: str | None = None,
        caller: Caller | None = None,
    ) -> SearchResult:
        """For every usable face in ``image``, the ``top_k`` most similar gallery faces, best
        first, each flagged ``is_match`` when its similarity is at least ``threshold``.

        Every search says why: without a ``purpose`` and ``case_ref`` it is refused
        (``PurposeRequiredError``). It is logged (``log_search``) with ``caller`` (default:
        ``Caller.python()``)."""
        caller = caller or Caller.python()
        self.check_search_purpose(purpose, case_ref, caller)
        self.search_bounds(top_k, threshold)  # refused before the costly analysis
        analysis, faces = self.probe_faces(image, "probe image")
        return self.search_analysed(
            analysis, faces, top_k, threshold, collections,
            purpose=purpose, case_ref=case_ref, caller=caller,
        )  # fmt: skip

    def check_search_purpose(
        self,
        purpose: str | None,
        case_ref: str | None,
        caller: Caller,
        names: tuple[str, str] = ("purpose", "case_ref"),
    ) -> tuple[str, str]:
        """The purpose and case reference, stripped; a search without them is refused, and
        the refusal audited (``names``: what the caller calls them, for the message)."""
        try:
            return check_search_purpose(purpose, case_ref, names)
        except RefusedError as exc:
            self.record_refusal(exc, caller)
            raise

    def search_bounds(self, top_k: int | None, threshold: float | None) -> tuple[int, float]:
        """``top_k`` and ``threshold``, defaults filled in; refuses values out of range."""
        top_k = self.settings.default_top_k if top_k is None else top_k
        threshold = self.settings.match_threshold if threshold is None else threshold
        if top_k <= 0:
            raise InvalidArgumentError(f"top_k must be at least 1, got {top_k}")
        if not -1.0 <= threshold <= 1.0:
            raise InvalidArgumentError(f"threshold must be in [-1, 1], got {threshold}")
        return top_k, threshold

    def search_analysed(
        self,
        analysis: ImageAnalysis,
        faces: Sequence[AnalysedFace],
        top_k: int | None = None,
        threshold: float | None = None,
        collections: Sequence[str] | None = None,
        *,
        purpose: str | None = None,
        case_ref: str | None = None,
        caller: Caller | None = None,
    ) -> SearchResult:
        """``search`` for a probe already analysed (``probe_faces``): the index and store
        part only, the part that needs the engine to itself. Refused and logged as
        ``search``."""
        caller = caller or Caller.python()
        purpose, case_ref = self.check_search_purpose(purpose, case_ref, caller)
        top_k, threshold = self.search_bounds(top_k, threshold)
        embeddings = [f.embedding for f in faces if f.embedding is not None]
        for embedding in embeddings:
            if embedding.model != self.model:
                raise ModelMismatchError(
                    f"probe embedded by {embedding.model}, index holds {self.model}"
                )
        allowed = self._face_ids_in(collections)
        queries = np.stack([e.vector for e in embeddings])
        scores, ids = self.index.search(queries, top_k, allowed_ids=allowed)
        opted_out = self.suppressed(queries)  # someone who opted out is never found
        results = [
            ProbeFaceMatches(
                probe_box=face.box,
                matches=[] if hidden else matches,
                probe_sha256=hashlib.sha256(embedding.vector.tobytes()).hexdigest(),
            )
            for face, embedding, matches, hidden in zip(
                faces, embeddings, self._matches(scores, ids, threshold), opted_out, strict=True
            )
        ]
        rejected = [f.quality for f in analysis.faces if not f.accepted]
        search_id = self.log_search(
            caller, purpose, case_ref, list(collections or []),
            [r.probe_sha256 for r in results], [m for r in results for m in r.matches], threshold,
        )  # fmt: skip
        return SearchResult(
            threshold=threshold,
            model=self.model,
            faces=results,
            faces_rejected=rejected,
            search_id=search_id,
        )

    def log_search(
        self,
        caller: Caller,
        purpose: str,
        case_ref: str,
        collections: list[str],
        probe_sha256: list[str],
        shown: list[Match],
        threshold: float,
        *,
        person_id: int | None = None,
    ) -> int | None:
        """Record who searched, why, over what, the probe embeddings' hashes and the faces
        shown (never the probe): in the audit log always, and in the search log when the
        caller is an account (its rows need one). Returns the search log's id, if any."""
        search_id = None
        if caller.account_id is not None:
            search_id = self.store.log_search(
                SearchRecord(
                    account_id=caller.account_id,
                    account_name=caller.actor,
                    purpose=purpose,
                    case_ref=case_ref,
                    collections=collections,
                    probe_faces=len(probe_sha256),
                    results=len(shown),
                    matches=sum(m.is_match for m in shown),
                    threshold=threshold,
                    searched_at=datetime.now(UTC),
                    probe_sha256=probe_sha256,
                    result_face_ids=[m.face_id for m in shown],
                )
            )
        details: dict[str, object] = {
            "purpose": purpose,
            "case_ref": case_ref,
            "collections": collections,
            "probe_sha256": probe_sha256,
            "result_face_ids": [m.face_id for m in shown],
            "matches": sum(m.is_match for m in shown),
            "threshold": threshold,
            "search_id": search_id,  # its row in the search log (None: no account)
        }
        if person_id is not None:
            details["person_id"] = person_id
        self.audit(caller, SEARCH_AUDIT_ACTION, case_ref, details)
        return search_id

    def _face_ids_in(self, collections: Sequence[str] | None) -> IdArray | None:
        """The indexed faces of ``collections``; None (all faces) when none are named."""
        if not collections:
            return None
        return self.store.face_ids_in_collections(list(collections), self.model)

    def _matches(
        self, scores: np.ndarray, ids: np.ndarray, threshold: float, skip: set[int] | None = None
    ) -> list[list[Match]]:
        """Each row of an index answer as matches with their sources, best first (faces of
        people who opted out left out)."""
        found = sorted({int(i) for i in ids.ravel() if i >= 0})
        records = self.store.face_records(found)
        if len(self._suppression_list()):
            for face_ids, vectors in self.store.embeddings(self.model, face_ids=found):
                for face_id in face_ids[self.suppressed(vectors)]:
                    records.pop(int(face_id), None)
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
        *,
        purpose: str | None = None,
        case_ref: str | None = None,
        caller: Caller | None = None,
    ) -> PersonSearchResult:
        """Faces like a named person's (the mean of their faces), other than theirs. Refused
        without ``purpose`` and ``case_ref``, and logged, like ``search``."""
        caller = caller or Caller.python()
        purpose, case_ref = self.check_search_purpose(purpose, case_ref, caller)
        top_k, threshold = self.search_bounds(top_k, threshold)
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
        query_sha256 = hashlib.sha256(query.tobytes()).hexdigest()
        search_id = self.log_search(
            caller, purpose, case_ref, list(collections or []), [query_sha256], matches,
            threshold, person_id=person_id,
        )  # fmt: skip
        return PersonSearchResult(
            person=person,
            threshold=threshold,
            model=self.model,
            matches=matches,
            query_sha256=query_sha256,
            search_id=search_id,
        )

    def verify(
        self,
        image_a: ImageInput,
        image_b: ImageInput,
        threshold: float | None = None,
        *,
        pipeline: FacePipeline | None = None,
        caller: Caller | None = None,
    ) -> VerifyResult:
        """Are the main (largest) faces of the two images the same person? (Touches neither
        index nor faces: see ``probe_faces`` for ``pipeline``.) Audited as ``verify``."""
        threshold = self.settings.match_threshold if threshold is None else threshold
        _, faces_a = self.probe_faces(image_a, "first image", pipeline=pipeline)
        _, faces_b = self.probe_faces(image_b, "second image", pipeline=pipeline)
        a, b = faces_a[0], faces_b[0]
        assert a.embedding is not None and b.embedding is not None
        score = similarity(a.embedding, b.embedding)
        result = VerifyResult(
            same_person=score >= threshold,
            similarity=score,
            threshold=threshold,
            box_a=a.box,
            box_b=b.box,
            model=self.model,
        )
        self.audit(
            caller or Caller.python(),
            VERIFY_AUDIT_ACTION,
            "verification",
            {"threshold": threshold, "same_person": bool(result.same_person)},
        )
        return result

    # --- persons ------------------------------------------------------------------------

    def enrol(
        self,
        name: str,
        photos: Iterable[str | Path],
        *,
        collection: str = "enrolment",
        consent_id: int | None = None,
    ) -> Person:
        """Create (or extend) the person ``name`` with the main face of each photo.

        Photos are ingested into ``collection``; a photo already there is not stored twice. In
        a collection whose basis is consent, ``consent_id`` must name a valid consent record
        covering the collection and not another person's, and only the subject's face of each
        photo is kept. Every rule is checked and every photo analysed before anything is
        stored: a refusal, or a photo with no usable face, stores nothing (and facelens's own
        copies of the photos, such as uploads, are deleted).
        """
        if not name.strip():
            raise InvalidArgumentError("a person needs a non-empty name")
        paths = [Path(photo) for photo in photos]
        try:
            policy = self.policy_for_ingest(collection)
            consent = None
            if policy.basis == LegalBasis.CONSENT:
                consent = self.valid_consent(consent_id, collection)
                if consent.person_id not in (None, self.store.person_id(name)):
                    raise ConsentRequiredError(
                        f"consent record {consent.id} is another person's (person "
                        f"{consent.person_id}); each person enrols under their own consent"
                    )
            prepared = [
                self._prepare_enrolment(photo, name, collection, subject_only=consent is not None)
                for photo in paths
            ]
        except Exception:
            self._remove_owned_files([str(p.resolve()) for p in paths])
            raise
        face_ids = [self._store_enrolment(item, collection) for item in prepared]
        person_id = self.store.get_or_create_person(name)
        if consent is not None:
            self.store.update_consent(
                consent.id, person_id=person_id, last_interaction_at=datetime.now(UTC)
            )
            self.store.set_face_consent(face_ids, consent.id)
        self.store.assign_faces(person_id, face_ids)
        return self.person(person_id)

    def valid_consent(self, consent_id: int | None, collection: str) -> Consent:
        if consent_id is None:
            raise ConsentRequiredError(
                f"collection {collection!r} rests on consent: name the person's consent record "
                "(--consent ID; facelens consent add records one)"
            )
        consent = self.store.consent(consent_id)
        if not consent.valid_at(datetime.now(UTC)):
            state = "withdrawn" if consent.withdrawn_at else "expired or not yet valid"
            raise ConsentRequiredError(f"consent record {consent_id} is {state}")
        if collection not in consent.scope:
            raise ConsentRequiredError(
                f"consent record {consent_id} covers {', '.join(consent.scope)}, not {collection!r}"
            )
        return consent

    def _prepare_enrolment(
        self, photo: Path, name: str, collection: str, *, subject_only: bool = False
    ) -> _Enrolment:
        """Read and analyse ``photo`` without storing anything; refuses a face of someone who
        opted out, and a photo with no usable face. With ``subject_only``, other people in the
        photo are left out (they did not consent)."""
        data = read_image_bytes(photo, self.settings.max_image_bytes)
        sha256 = hashlib.sha256(data).hexdigest()
        stored = self.store.image_face_ids(collection, sha256)
        if len(stored):
            return _Enrolment(str(photo.resolve()), sha256, None, int(stored[0]))
        analysis, accepted = self.probe_faces(data, str(photo))
        if subject_only:
            analysis = ImageAnalysis(analysis.width, analysis.height, accepted[:1])
        analysis, suppressed = self._without_suppressed(analysis)
        if suppressed and not analysis.accepted_faces:
            # Never say which file: it may be where an erased person's photo still is.
            raise RefusedError(
                "the face belongs to someone who opted out (suppression list); it is not stored",
                rule="suppression",
            )
        if not analysis.accepted_faces:
            raise NoFaceFoundError(
                f"{photo}: no usable face to enrol; use a clear, frontal photo of {name}"
            )
        return _Enrolment(str(photo.resolve()), sha256, analysis, None)

    def _store_enrolment(self, item: _Enrolment, collection: str) -> int:
        """The id of the enrolled photo's largest face, storing the photo first if needed."""
        if item.face_id is not None:
            return item.face_id
        assert item.analysis is not None
        added = self.store.add_image(
            collection=collection,
            location=item.location,
            sha256=item.sha256,
            analysis=item.analysis,
            provenance=Provenance(),
        )
        if added is not None and len(added.face_ids):
            self.index.add(added.face_ids, added.vectors)
            self._persist_index()
        ids = self.store.image_face_ids(collection, item.sha256)
        return int(ids[0])  # faces are stored largest first: the subject of the photo

    def assign(self, person_name: str, face_ids: Sequence[int]) -> Person:
        person_id = self.store.get_or_create_person(person_name)
        self.store.assign_faces(person_id, list(face_ids))
        return self.person(person_id)

    def create_person(self, name: str) -> Person:
        """The person ``name``, created when there is none (names are unique)."""
        return self.person(self.store.get_or_create_person(name))

    def rename_person(self, person_id: int, name: str) -> Person:
        self.store.rename_person(person_id, name)
        return self.person(person_id)

    def assign_faces(self, person_id: int, face_ids: Sequence[int]) -> Person:
        """Assign faces to the person ``person_id``."""
        self.store.assign_faces(person_id, list(face_ids))
        return self.person(person_id)

    def merge_persons(self, into_id: int, other_id: int) -> Person:
        """Move the other person's faces to ``into_id`` and delete the other."""
        self.store.merge_persons(into_id, other_id)
        return self.person(into_id)

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
        indexed faces went. The index drops them at once; in its approximate tier their
        32-byte codes are compacted away in the background (``erase`` compacts at once)."""
        given = [x for x in (image, face, person, collection) if x is not None]
        if len(given) != 1:
            raise InvalidArgumentError("name exactly one of image, face, person or collection")
        if image is not None:
            erased = self.store.delete_images([image])
        elif face is not None:
            erased = self.store.delete_faces([face])
        elif person is not None:
            erased = self.store.delete_person(person)
        else:
            assert collection is not None
            erased = self.store.delete_collection(collection)
        self.after_erasure(erased, compact=False)
        return len(erased.face_ids)

    def erase(
        self,
        face_ids: Sequence[int],
        *,
        suppress: FloatArray | None = None,
        request_id: int | None = None,
        request_outcome: dict[str, object] | None = None,
    ) -> ErasedFaces:
        """Erase faces everywhere at once: the store (with the images left without a face,
        in one transaction with the suppression entry and the request's outcome), the index
        (codes compacted away, not left as tombstones), and facelens's own copies of images."""
        erased = self.store.erase_faces(
            face_ids, suppress=suppress, request_id=request_id, request_outcome=request_outcome
        )
        if suppress is not None:
            self._suppressed = None
        self.after_erasure(erased, compact=True)
        return erased

    def after_erasure(self, erased: ErasedFaces, *, compact: bool) -> None:
        """Bring everything derived from the store in line with a deletion it committed."""
        self.index.remove(erased.face_ids)
        if compact:
            self.index.compact()
        self._persist_index()
        self._remove_owned_files(erased.image_locations)
        self.store.checkpoint()
        # Ids only: never log images or embeddings.
        log.info(
            "deleted %d indexed faces: %s; %d images",
            len(erased.face_ids),
            erased.face_ids.tolist(),
            len(erased.image_ids),
        )

    def _remove_owned_files(self, locations: Sequence[str]) -> None:
        """Delete the files facelens itself keeps (uploads, fetched images) of deleted images,
        unless another image record still points at the same file. The operator's own files
        are theirs: they are never touched."""
        owned = [(self.settings.data_dir / name).resolve() for name in OWNED_FOLDERS]
        for location in locations:
            path = Path(location)
            if not any(path.is_relative_to(folder) for folder in owned):
                continue
            if self.store.location_in_use(location):
                continue
            path.unlink(missing_ok=True)
            parent = path.parent
            if parent not in owned and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()

    def withdraw_consent(self, consent_id: int, actor: str = SYSTEM_ACTOR) -> ErasedFaces:
        """Record the withdrawal and erase every face enrolled under the consent. (Should the
        process die in between, the next retention run erases them.)"""
        consent = self.store.consent(consent_id)  # NotFoundError when unknown
        if consent.withdrawn_at is None:
            self.store.update_consent(consent_id, withdrawn_at=datetime.now(UTC))
        erased = self.erase(self.store.consent_face_ids(consent_id))
        self.store.append_audit(
            actor,
            "consent withdraw",
            f"consent {consent_id}",
            {"face_ids": erased.face_ids.tolist(), "image_ids": erased.image_ids},
        )
        return erased

    # --- the audit log, accounts and what the doors read --------------------------------

    def audit(
        self, caller: Caller | str, action: str, subject: str, details: dict[str, Any]
    ) -> AuditEntry:
        """Append an entry to the tamper-evident audit log, naming ``caller`` (or an actor)."""
        actor = caller.actor if isinstance(caller, Caller) else caller
        return self.store.append_audit(actor, action, subject, details)

    def record_refusal(self, exc: RefusedError, caller: Caller | str) -> None:
        """Audit a lawful-processing refusal (counted by rule in the transparency report),
        once however many layers see it."""
        if exc.audited:
            return
        self.audit(
            caller, REFUSED_AUDIT_ACTION, exc.code, {"refused": exc.rule, "message": str(exc)}
        )
        exc.audited = True

    def audit_entries(self, after_id: int = 0, limit: int | None = None) -> list[AuditEntry]:
        """Audit entries after ``after_id``, oldest first, each with its chain hashes."""
        return self.store.audit_entries(after_id, limit)

    def create_account(
        self, name: str, role: Role, jurisdiction: str | None = None
    ) -> tuple[Account, str]:
        """A new account of the HTTP API and its key (returned once; only a hash is kept)."""
        return create_account(self.store, name, role, jurisdiction)

    def authenticate(self, key: str | None) -> Account:
        """The account an API key belongs to; ``AuthenticationError`` otherwise."""
        return authenticate(self.store, key)

    def account(self, account_id: int) -> Account | None:
        """The account with this id, or None."""
        found = self.store.account_with_key_hash(account_id)
        return found[0] if found is not None else None

    def accounts(self) -> list[Account]:
        return self.store.accounts()

    def search_log(self, account_id: int | None = None, limit: int = 100) -> list[SearchRecord]:
        """Newest first: one account's searches, or everyone's."""
        return self.store.search_log(account_id, limit)

    def transparency_report(self, since: datetime) -> TransparencyReport:
        """Counts since ``since`` (nothing in it identifies a person)."""
        return transparency_report(self.store, since)

    # --- collections, images and faces as stored ------------------------------------------

    def collection_names(self) -> list[str]:
        return self.store.collection_names()

    def collection_counts(self, name: str) -> tuple[int, int]:
        """Images and accepted faces in the collection; ``NotFoundError`` when unknown."""
        return self.store.collection_counts(name)

    def collection_policy(self, name: str) -> CollectionPolicy | None:
        return self.store.collection_policy(name)

    def collection_policies(self) -> dict[str, CollectionPolicy | None]:
        return self.store.collection_policies()

    def known_image_hashes(self, collection: str) -> set[str]:
        """The sha256 of every image in ``collection``."""
        return self.store.known_image_hashes(collection)

    def images(
        self, collection: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[ImageRecord]:
        """Oldest first; ``NotFoundError`` for an unknown collection."""
        return self.store.images(collection, offset, limit)

    def image_record(self, image_id: int) -> ImageRecord:
        """``NotFoundError`` when unknown."""
        return self.store.image_record(image_id)

    def accepted_face_ids(
        self, *, image_id: int | None = None, person_id: int | None = None
    ) -> list[int]:
        return self.store.accepted_face_ids(image_id=image_id, person_id=person_id)

    def face_records(self, face_ids: Sequence[int]) -> dict[int, FaceRecord]:
        return self.store.face_records(face_ids)

    def face_record(self, face_id: int) -> FaceRecord:
        """``NotFoundError`` when there is no such face."""
        record = self.store.face_records([face_id]).get(face_id)
        if record is None:
            raise NotFoundError(f"no face {face_id}")
        return record

    def face_source(
        self, face_id: int, *, caller: Caller | None = None, view: str = "source"
    ) -> tuple[FaceRecord, RgbImage]:
        """The face and the whole image it was found in, decoded; the view (``view``: what
        is shown of it, e.g. "source" or "thumbnail") is audited."""
        record = self.face_record(face_id)
        path = Path(record.image_location)
        if not path.is_file():
            raise NotFoundError(f"the source of face {face_id} is no longer at {path}")
        image = self.pipeline.load(path)
        self.audit(
            caller or Caller.python(), SOURCE_VIEW_AUDIT_ACTION, f"face {face_id}", {"view": view}
        )
        return record, image

    # --- consent and subject requests as stored --------------------------------------------

    def add_consent(
        self,
        *,
        subject_ref: str,
        purpose: str,
        scope: Sequence[str],
        given_at: datetime,
        expires_at: datetime | None,
        evidence_ref: str,
    ) -> Consent:
        """Record a subject's consent, with the evidence for it."""
        return self.store.add_consent(
            subject_ref=subject_ref,
            purpose=purpose,
            scope=scope,
            given_at=given_at,
            expires_at=expires_at,
            evidence_ref=evidence_ref,
        )

    def consents(self) -> list[Consent]:
        return self.store.consents()

    def subject_requests(self) -> list[SubjectRequest]:
        """Every access and erasure request and its outcome."""
        return self.store.subject_requests()

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
            faces_quarantined=len(self.store.quarantined_face_ids()),
        )
