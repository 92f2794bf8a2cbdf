"""Keeping the index in step with the store (the source of truth): the model it holds,
writing it, repairing it on open and rebuilding it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facelens.engine.state import (
    INDEX_MODEL_KEY,
    INDEX_PARAMS_KEY,
    MODEL_SOURCE_KEY,
    EngineState,
    log,
)
from facelens.errors import ModelMismatchError
from facelens.index import IndexOptions

#: Beside the index: the gallery generation (``MetadataStore.gallery_generation``) and face
#: count the index was last written at, by the folder's only holder.
GENERATION_FILE = "index-generation.json"


@dataclass(frozen=True, slots=True)
class IndexRepair:
    added: int
    removed: int


class IndexSync(EngineState):
    """The index kept in step with the store."""

    last_repair: IndexRepair  # what the repair on open did

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
            milvus_url=s.index_url,
            milvus_token=s.milvus_token.get_secret_value() if s.milvus_token else None,
            milvus_collection_prefix=s.milvus_collection_prefix,
            milvus_index_type=s.milvus_index_type,
            milvus_index_params=dict(s.milvus_index_params),
            milvus_search_params=dict(s.milvus_search_params),
        )

    def _persist_index(self) -> None:
        """Write the index, and record in the store how its approximate tier was built."""
        self.index.persist()
        self._record_generation()
        params = self._persisted_index_params = self.index.params()
        if params.get("kind") == "ivfpq":
            described = json.dumps(params, sort_keys=True)
            if self.store.get_meta(INDEX_PARAMS_KEY) != described:
                self.store.set_meta(INDEX_PARAMS_KEY, described)

    def _claim_model(self) -> None:
        """One engine, one embedding model: refuse to mix another model's embeddings in."""
        held = self.store.get_meta(INDEX_MODEL_KEY)
        if held is None:
            self.store.set_meta(INDEX_MODEL_KEY, str(self.model))
        elif held != str(self.model):
            raise ModelMismatchError(
                f"{self.settings.data_dir} holds embeddings of {held}, but this pipeline makes "
                f"{self.model}; open it with {self._recorded_model_settings()}, or use "
                "another data folder (`facelens reindex --model` switches a folder's model)"
            )

    def _recorded_model_settings(self) -> str:
        """The settings that make the folder's model, as ``reindex`` recorded them."""
        recorded = self.store.get_meta(MODEL_SOURCE_KEY)
        if not recorded:
            return "the same model"
        source = json.loads(recorded)
        # The same names as reindex.environment (which imports this module, not the reverse).
        return " ".join(f"FACELENS_{key.upper()}={value}" for key, value in sorted(source.items()))

    # --- the gallery generation the index was written at ---------------------------------

    @property
    def _generation_file(self) -> Path:
        return self.settings.data_dir / GENERATION_FILE

    def _generation_record(self) -> dict[str, object]:
        return {
            "generation": self.store.gallery_generation(),
            "faces": self.index.count(),
            "model": str(self.model),
            "index": self.settings.index_backend,
        }

    def _record_generation(self) -> None:
        """Note the store's gallery generation the index just written holds, so that the next
        open can skip reading every face id. Only when this process is the folder's one
        holder: another process's writes would be counted as ours (then nothing is noted, and
        the next open checks every face)."""
        path = self._generation_file
        if self.folder_lock.others():
            path.unlink(missing_ok=True)
            return
        partial = path.with_name(path.name + ".tmp")
        partial.write_text(json.dumps(self._generation_record()))
        partial.replace(path)

    def _index_is_current(self) -> bool:
        """Whether the index holds what the store holds, known without reading the faces:
        it was written at the store's present gallery generation and still counts as many."""
        if self.settings.index_check_on_open:
            return False
        try:
            recorded = json.loads(self._generation_file.read_text())
        except (OSError, ValueError):
            return False
        return bool(recorded == self._generation_record())

    def repair_index(self) -> IndexRepair:
        """Make the index hold exactly the store's accepted faces (the store wins). Skipped
        when the index was written at the store's present gallery generation."""
        if self._index_is_current():
            return IndexRepair(added=0, removed=0)
        self._generation_file.unlink(missing_ok=True)  # until the index is known whole again
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
        else:
            self._record_generation()  # what is on disk is whole: only the note is new
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
