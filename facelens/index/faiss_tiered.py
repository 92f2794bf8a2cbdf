"""Exact search while the gallery is small, approximate search with exact re-ranking past
``ann_min_faces``, swapped in without stopping searches.

Below the threshold the index is FAISS ``IndexFlatIP`` (exact, 512 bytes a face in RAM). Past
it, a background thread trains and fills an IVF-PQ index (an inverted file of ``nlist`` lists,
each face a product-quantised code of ``ann_pq_subquantizers`` 4-bit numbers) while searches
go on against the exact index; changes made meanwhile are journalled and replayed, then the
new index is swapped in under a lock. An approximate search takes a short list of
``ann_rerank_candidates`` from the IVF-PQ and re-scores it exactly with the vectors kept on disk
(``VectorFile``), so the scores returned are true cosine similarities and the top-1 is the exact
one whenever it made the short list.

Deleting from the approximate tier erases the face's vector from disk and drops its id from
``live`` at once, so it is never returned again; its 32-byte code stays in the inverted lists as
a tombstone (FAISS 1.15's fast-scan ``remove_ids`` loses faces added after it) until the dead
codes pass ``ann_max_dead_share`` of the index, when the lists are rebuilt from the live faces
in the background, reusing the trained quantizers.

The approximate tier's parameters, training and search parameters are in
``facelens.index.ivfpq``; exact scoring and re-ranking in ``facelens.index.exact``; the files
(``vectors.f32`` or ``vectors.sealed``, ``live.npy``, ``ivfpq.faiss``, ``state.json``) in
``facelens.index.tiered_files``. Files that do not open with the configured key are discarded
and the index starts empty; the engine rebuilds it from the store. Builds run in memory: the
background thread writes no file.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from facelens.errors import DecryptionError
from facelens.ids import unique_ids
from facelens.index.base import MISSING_SCORE, IndexOptions, VectorIndex, register_index
from facelens.index.exact import rerank, search_flat, search_subset
from facelens.index.ivfpq import GROWTH_RETRAIN_FACTOR, AnnParams, fill_ivfpq, search_parameters
from facelens.index.subset_cache import SubsetCache
from facelens.index.tiered_files import TieredFiles, Tiers
from facelens.index.vector_file import (
    PLAIN_NAME,
    SEALED_NAME,
    VectorFile,
    check_ids,
    vector_file_name,
)
from facelens.security.crypto import TemplateCipher
from facelens.types import FloatArray, IdArray, ModelId

__all__ = ["EXACT_FILTER_MAX_FACES", "AnnParams", "FaissTieredIndex"]

log = logging.getLogger(__name__)

#: With a collection filter this small, scanning its vectors exactly beats probing the IVF.
EXACT_FILTER_MAX_FACES = 20_000


class FaissTieredIndex(VectorIndex):
    backend = "faiss-tiered"

    def __init__(self, model: ModelId, folder: Path, options: IndexOptions | None = None) -> None:
        super().__init__(model, folder, options)
        self._lock = threading.RLock()
        self._subsets = SubsetCache()  # emptied by every change (``_mark``, ``_reset``)
        self._vectors = self._open_vectors(self.options.cipher)
        self._files = TieredFiles(folder)
        self._live = np.zeros(0, dtype=bool)  # live[id]: id is indexed (1 byte a face)
        self._count = 0
        self._exact: Any | None = None  # IndexIDMap2(IndexFlatIP) while small
        self._ivf: Any | None = None  # IVF-PQ once past ann_min_faces
        self._ann: AnnParams | None = None
        self._search_params: Any = None
        self._ivf_dirty = False
        self._journal: list[IdArray] | None = None  # ids added while a build runs
        self._builder: threading.Thread | None = None
        self._bulk_loading = False
        self.build_seconds: float | None = None
        if not self._load():
            self._discard_files()
            self._reset()
        else:
            # The other format's vector file is stale: plain templates left by a switch to a
            # key, or rows the state no longer names.
            self._other_vector_file().unlink(missing_ok=True)
            if self._ivf is None and self._count >= self.options.ann_min_faces:
                self._start_build()  # a build that an earlier process did not see through

    # --- state -------------------------------------------------------------------------

    def _reset(self) -> None:
        self._subsets.clear()
        self._live = np.zeros(0, dtype=bool)
        self._count = 0
        self._exact = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        self._ivf = None
        self._ann = None

    def _open_vectors(self, cipher: TemplateCipher | None) -> VectorFile:
        return VectorFile(self.folder / vector_file_name(cipher), self.dim, cipher)

    def _other_vector_file(self) -> Path:
        return self.folder / (SEALED_NAME if self._vectors.path.name == PLAIN_NAME else PLAIN_NAME)

    def _load(self) -> bool:
        """Open the persisted state; False (start empty, the engine repairs from the store)
        when it is absent, unreadable, another model's, or sealed with another key than the
        configured one (or sealed when none is, or plain when one is)."""
        tiers = self._files.load(
            self.model, self.backend, self._key_problem, self._vectors, self.options.cipher
        )
        if isinstance(tiers, str):
            log.warning(
                "the index in %s %s; starting empty (the engine rebuilds it from the store)",
                self.folder,
                tiers,
            )
        if not isinstance(tiers, Tiers):
            return False
        self._live = tiers.live
        self._count = int(np.count_nonzero(tiers.live))
        self._exact, self._ivf = tiers.exact, tiers.ivf
        if tiers.ivf is not None:
            self._ann, self._search_params = tiers.ann, tiers.search_params
        return True

    def _discard_files(self) -> None:
        """Remove every persisted file (``state.json`` first) and start a new vector file."""
        self._files.discard()
        self._subsets.clear()
        self._vectors = self._open_vectors(self.options.cipher)

    def _mark(self, ids: IdArray, live: bool) -> None:
        self._subsets.clear()
        if live and len(ids) and int(ids.max()) >= len(self._live):
            grown = np.zeros(max(int(ids.max()) + 1, 2 * len(self._live)), dtype=bool)
            grown[: len(self._live)] = self._live
            self._live = grown
        self._live[ids] = live

    def _present(self, ids: IdArray) -> IdArray:
        inside = ids[(ids >= 0) & (ids < len(self._live))]
        return unique_ids(inside[self._live[inside]])

    # --- the contract ------------------------------------------------------------------

    def add(self, ids: IdArray, vectors: FloatArray) -> None:
        id_array, array = self._check_added(ids, vectors)
        if not len(id_array):
            return
        check_ids(id_array)
        with self._lock:
            if len(self._present(id_array)) or len(unique_ids(id_array)) < len(id_array):
                raise ValueError("ids must be new to the index and distinct")
            self._vectors.write(id_array, array)
            self._mark(id_array, True)
            self._count += len(id_array)
            if self._ivf is not None:
                self._ivf.add_with_ids(array, id_array)
                self._ivf_dirty = True
            else:
                assert self._exact is not None
                self._exact.add_with_ids(array, id_array)
            if self._journal is not None:
                self._journal.append(id_array)
            elif not self._bulk_loading:
                self._build_if_due()

    def remove(self, ids: IdArray) -> int:
        with self._lock:
            present = self._present(np.ascontiguousarray(ids, dtype=np.int64))
            if not len(present):
                return 0
            if self._ivf is None:
                assert self._exact is not None
                self._exact.remove_ids(faiss.IDSelectorBatch(present))
            # In the approximate tier the code stays as a tombstone that ``live`` filters out.
            self._vectors.erase(present)
            self._mark(present, False)
            self._count -= len(present)
            if (
                self._ivf is not None
                and self._journal is None
                and self.dead_codes() > self.options.ann_max_dead_share * max(self._count, 1)
            ):
                self._start_build()
            return len(present)

    def dead_codes(self) -> int:
        """Codes in the approximate tier whose face was deleted (or re-added since)."""
        return int(self._ivf.ntotal) - self._count if self._ivf is not None else 0

    def search(
        self, queries: FloatArray, k: int, allowed_ids: IdArray | None = None
    ) -> tuple[FloatArray, IdArray]:
        array = self._check(queries, "queries")
        n = len(array)
        empty = (
            np.full((n, max(k, 0)), MISSING_SCORE, dtype=np.float32),
            np.full((n, max(k, 0)), -1, dtype=np.int64),
        )
        if n == 0 or k <= 0 or self._count == 0:
            return empty
        allowed = None
        if allowed_ids is not None:
            allowed = self._present(np.ascontiguousarray(allowed_ids, dtype=np.int64))
            if not len(allowed):
                return empty
        with self._lock:
            if self._ivf is None:
                return search_flat(self._exact, array, k, allowed)
            if allowed is not None and len(allowed) <= EXACT_FILTER_MAX_FACES:
                subset = self._subsets.vectors(allowed, self._vectors.read)
                return search_subset(subset, array, k, allowed)
            assert self._ann is not None
            shortlist = max(k, self._ann.rerank_candidates)
            if allowed is not None:  # fast scan takes no id selector: widen, then filter
                shortlist *= 4
            _, candidates = self._ivf.search(array, shortlist, params=self._search_params)
            if allowed is not None:
                candidates = np.where(np.isin(candidates, allowed), candidates, -1)
            return rerank(self._vectors, self._live, array, candidates, k)

    def count(self) -> int:
        return self._count

    def ids(self) -> IdArray:
        return np.flatnonzero(self._live).astype(np.int64)

    def stored_vectors(self, ids: IdArray) -> tuple[IdArray, FloatArray] | None:
        with self._lock:
            present = self._present(np.ascontiguousarray(ids, dtype=np.int64))
            try:
                return present, self._vectors.read(present)
            except DecryptionError:
                return None  # the store's read quarantines what does not open

    def clear(self) -> None:
        self.wait_for_build()
        with self._lock:
            self._vectors.clear()
            self._reset()

    # --- the approximate tier ----------------------------------------------------------

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        with self._lock:
            self._bulk_loading = True
        try:
            yield
        finally:
            with self._lock:
                self._bulk_loading = False
                if self._journal is None:
                    self._build_if_due()

    def _build_if_due(self) -> None:
        if self._ivf is None:
            if self._count >= self.options.ann_min_faces:
                self._start_build()
        elif (
            self._ann is not None
            and not self.options.ann_nlist
            and self._count > GROWTH_RETRAIN_FACTOR * self._ann.trained_on
        ):
            self._start_build(retrain=True)

    def _start_build(self, *, retrain: bool = False) -> None:
        self._journal = []
        if not self.options.build_in_background:
            self._build(retrain)
            return
        self._builder = threading.Thread(
            target=self._build, args=(retrain,), name="ivfpq-build", daemon=True
        )
        self._builder.start()

    def _build(self, retrain: bool = False) -> None:
        """Build an approximate index from the live faces and swap it in. With one already
        there: compaction (same training, tombstones dropped) or, with ``retrain``, a new
        training for a gallery that has outgrown it."""
        started = time.perf_counter()
        with self._lock:
            ids = np.flatnonzero(self._live).astype(np.int64)
            current, current_ann = self._ivf, self._ann
        reuse = None
        if current is not None and current_ann is not None and not retrain:
            reuse = (current, current_ann)
        try:
            ivf, ann = fill_ivfpq(self.dim, ids, self.options, self._read_unlocked, reuse)
        except Exception:
            log.exception("building the approximate index failed; searches stay exact")
            with self._lock:
                self._journal = None
                self._builder = None
            return
        with self._lock:
            for added in self._journal or []:
                ivf.add_with_ids(self._vectors.read(added), added)
            self._ivf, self._ann, self._exact = ivf, ann, None
            self._search_params = search_parameters(ann)
            self._journal = None
            self._builder = None
            self._ivf_dirty = True
            self.build_seconds = time.perf_counter() - started
        log.info(
            "approximate index %s swapped in (%.1f s)", ann.factory_string(), self.build_seconds
        )

    def _read_unlocked(self, ids: IdArray) -> FloatArray:
        """Vectors for a build, read without the lock so that searches and changes go on. A
        sealed row erased or re-written while it is read does not open: read again under the
        lock, where no change is half done (a row that still does not open raises)."""
        try:
            return self._vectors.read(ids)
        except DecryptionError:
            with self._lock:
                return self._vectors.read(ids)

    def compact(self) -> None:
        """Rebuild the approximate tier without its tombstones, in this thread (the exact tier
        removes at once)."""
        self.wait_for_build()
        with self._lock:
            if self._ivf is None or self.dead_codes() == 0:
                return
            self._journal = []
        self._build()

    def wait_for_build(self, timeout_s: float | None = None) -> bool:
        builder = self._builder
        if builder is not None:
            builder.join(timeout_s)
            return not builder.is_alive()
        return True

    def tune(self, *, nprobe: int | None = None, rerank_candidates: int | None = None) -> None:
        """Change the search-time parameters of the approximate tier (no rebuild)."""
        with self._lock:
            if self._ann is not None:
                self._ann = replace(
                    self._ann,
                    nprobe=nprobe or self._ann.nprobe,
                    rerank_candidates=rerank_candidates or self._ann.rerank_candidates,
                )
                self._search_params = search_parameters(self._ann)

    @property
    def approximate(self) -> bool:
        return self._ivf is not None

    def params(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "backend": self.backend,
            "ann_min_faces": self.options.ann_min_faces,
        }
        if self._ann is None:
            described["kind"] = "exact"
            return described
        return described | {"kind": "ivfpq", **asdict(self._ann)}

    def memory_bytes(self) -> int:
        """RAM the index structures hold (not counting the vectors on disk)."""
        with self._lock:
            live = self._live.nbytes
            if self._ivf is not None:
                return live + int(faiss.serialize_index(self._ivf).nbytes)
            assert self._exact is not None
            return live + self._count * (self.dim * 4 + 8)

    # --- persistence -------------------------------------------------------------------

    def persist(self) -> None:
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._vectors.flush()
            self._files.write(
                live=self._live,
                ivf=self._ivf,
                ivf_changed=self._ivf_dirty,
                ann=self._ann,
                model=self.model,
                backend=self.backend,
                cipher=self.options.cipher,
            )
            if self._ivf is not None:
                self._ivf_dirty = False

    def rekey(self, cipher: TemplateCipher) -> None:
        """Seal every file with ``cipher`` from now on: the vector rows re-encrypted into a
        new file that replaces the old one, the approximate index re-sealed, then persisted.
        A crash midway leaves files that the recorded key no longer opens: the next open
        discards them and starts empty (the engine rebuilds from the store), never reads a
        mix."""
        self.wait_for_build()  # a build reads the vector file that is replaced here
        with self._lock:
            old_path = self._vectors.path
            self._subsets.clear()
            self._vectors = self._vectors.resealed(self.folder / vector_file_name(cipher), cipher)
            self.options = replace(self.options, cipher=cipher)
            self._ivf_dirty = True
            self.persist()
            if old_path != self._vectors.path:  # plain to sealed: the plain file goes
                old_path.unlink(missing_ok=True)


register_index(FaissTieredIndex.backend, FaissTieredIndex)
