"""The engine: its parts composed in one place, behind the public API (``Engine``).

The store is the source of truth. Every write goes to the store first and then to the index;
when the process dies between the two, ``repair_index`` (run on every open) brings the index
back in line with the store: faces missing from the index are added from their stored
embeddings, ids the store no longer holds are removed.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.exc import DatabaseError

from facelens.config import Settings
from facelens.engine.batch_search import BatchSearch
from facelens.engine.clustering import Clustering
from facelens.engine.ingest import Ingest
from facelens.engine.keys import Keys
from facelens.engine.person_search import PersonSearch
from facelens.engine.reindex import Reindex
from facelens.engine.state import log
from facelens.errors import StoreDamagedError
from facelens.index import VectorIndex, create_index
from facelens.pipeline.analyse import FacePipeline
from facelens.privacy.audit import AuditKey
from facelens.privacy.policy import JurisdictionPolicy
from facelens.security.crypto import UnsetCipher
from facelens.security.keys import (
    folder_id,
    load_audit_key,
    note_data_folder,
)
from facelens.store import MetadataStore, create_store
from facelens.store.lock import FolderLock
from facelens.types import (
    FloatArray,
    ModelId,
)


class Engine(Keys, Ingest, BatchSearch, PersonSearch, Clustering, Reindex):
    """Open with ``facelens.open(path)``. Not safe for concurrent use from several threads.

    Each base is one part of the engine (``facelens.engine.<part>``); they share the state of
    ``EngineState``, set up here.
    """

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
        self._collection_faces = {}
        self._reset_scoring()
        self.index: VectorIndex = create_index(
            settings.index_backend,
            self.model,
            settings.data_dir / "index",
            self._index_options(),
        )
        self.last_repair = self.repair_index()
        self._persisted_index_params = self.index.params()

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
