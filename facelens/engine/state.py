"""What every part of the engine shares: its settings, store, index, keys and models, and
the audit log they all write to."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from facelens.config import Settings
from facelens.errors import RefusedError
from facelens.index import VectorIndex
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.decode import RgbImage
from facelens.privacy.audit import AuditEntry, AuditKey
from facelens.privacy.policy import JurisdictionPolicy
from facelens.scoring.calibration import Calibration
from facelens.scoring.normalisation import Cohort
from facelens.security.crypto import TemplateCipher
from facelens.security.keys import KeySource
from facelens.store import MetadataStore
from facelens.store.lock import FolderLock
from facelens.types import (
    Caller,
    FloatArray,
    IdArray,
    ModelId,
)

#: An image given to ``search`` or ``verify``: a path, encoded bytes, or an RGB uint8 array.
ImageInput = str | Path | bytes | RgbImage
ProgressCallback = Callable[[int, int], None]

#: One logger for the whole engine, named as before it was a package.
log = logging.getLogger("facelens.engine")

INDEX_MODEL_KEY = "index_model"
#: The settings that make the folder's model (JSON: embedder, embed_model_path, ...), written
#: when ``reindex`` switches it, so that opening with another model says which to use.
MODEL_SOURCE_KEY = "index_model_source"
#: How the approximate index was last built (JSON), so a restart or rebuild reuses it.
INDEX_PARAMS_KEY = "index_params"
#: SHA-256 of the jurisdiction policy file last seen, so that a change is logged once.
POLICY_META = "jurisdiction_policy_sha256"
#: Actor named in audit entries the engine writes by itself.
SYSTEM_ACTOR = "system"
#: The audit action of those entries.
INGEST_AUDIT_ACTION = "ingest"
#: Audit actions of the operations every door (Python, CLI, HTTP API) logs the same way.
SEARCH_AUDIT_ACTION = "search"
#: A batch of searches as a whole (each of its searches is a ``search`` entry too).
BATCH_SEARCH_AUDIT_ACTION = "batch search"
VERIFY_AUDIT_ACTION = "verify"
#: A calibration of the search threshold on the gallery (facelens.scoring.calibration).
CALIBRATE_AUDIT_ACTION = "calibrate"
REFUSED_AUDIT_ACTION = "refused"
SOURCE_VIEW_AUDIT_ACTION = "source view"
#: Reviewer feedback on persons: "not this person" on a face and its withdrawal, merge, split.
PERSON_REJECT_AUDIT_ACTION = "person reject"
PERSON_UNREJECT_AUDIT_ACTION = "person unreject"
PERSON_MERGE_AUDIT_ACTION = "person merge"
PERSON_SPLIT_AUDIT_ACTION = "person split"
#: Folders under the data folder whose files facelens wrote (uploads, fetched images): an image
#: record that goes takes its file along.
OWNED_FOLDERS = ("uploads", "fetched")


class EngineState:
    """The state the engine's parts share (set by ``Engine``), and the audit log."""

    settings: Settings
    folder_lock: FolderLock
    pipeline: FacePipeline
    store: MetadataStore
    folder_id: str
    cipher: TemplateCipher
    key_source: KeySource
    audit_key: AuditKey
    model: ModelId
    jurisdiction_policy: JurisdictionPolicy
    index: VectorIndex
    _persisted_index_params: dict[str, Any]
    #: The suppression list, opened, in memory (None: to be read again).
    _suppressed: FloatArray | None

    #: The scoring cohort and the gallery size it was sampled at (-1: not loaded), the
    #: calibration (read once), and cohort statistics of gallery faces by face id.
    _cohort: Cohort | None
    _cohort_faces: int
    _calibration: Calibration | None
    _calibration_read: bool
    _gallery_stats: dict[int, tuple[float, float, int]]  # mean, std, person (-1: none)
    #: The indexed faces of each set of collections searched, with the gallery generation
    #: they were read at (``Search._face_ids_in``).
    _collection_faces: dict[tuple[str, ...], tuple[int, IdArray]]

    def _reset_scoring(self) -> None:
        self._cohort, self._cohort_faces = None, -1
        self._calibration, self._calibration_read = None, False
        self._gallery_stats = {}

    def persons_changed(self) -> None:
        """Faces changed person: the cohort's and the cached statistics' person ids are
        read again (a face's own person is left out of its statistics)."""
        self._cohort, self._cohort_faces = None, -1
        self._gallery_stats = {}

    def calibrate_if_stale(self) -> None:
        """After the gallery grew: calibrate again where due (``facelens.engine.scoring``)."""

    def forget_faces(self, face_ids: IdArray) -> None:
        """Erased faces leave every cache derived from them (the scoring cohort's, in
        ``facelens.engine.scoring``)."""

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
