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

Files in the index folder: ``vectors.f32`` (the full vectors, row = face id; with a template
key ``vectors.sealed``, each row sealed), ``live.npy`` (which ids are indexed), ``ivfpq.faiss``
(the approximate index, once built; sealed with a template key, as its codes are a lossy copy
of the templates) and ``state.json`` (model, tier, parameters and ``sealed_with``, the id of the
key the files are sealed with), written last so a crash leaves the previous state. Files that
do not open with the configured key are discarded and the index starts empty; the engine
rebuilds it from the store. Builds run in memory: the background thread writes no file.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from facelens.errors import DecryptionError
from facelens.index.base import (
    MISSING_SCORE,
    IndexOptions,
    VectorIndex,
    read_sealed_file,
    register_index,
    write_sealed_file,
)
from facelens.index.vector_file import (
    PLAIN_NAME,
    SEALED_NAME,
    VectorFile,
    check_ids,
    vector_file_name,
)
from facelens.security.crypto import TemplateCipher
from facelens.types import FloatArray, IdArray, ModelId

log = logging.getLogger(__name__)

#: With a collection filter this small, scanning its vectors exactly beats probing the IVF.
EXACT_FILTER_MAX_FACES = 20_000
#: An HNSW graph over the list centroids makes assigning millions of faces fast.
HNSW_QUANTIZER_MIN_NLIST = 4096
HNSW_ASSIGN_EF = 64
#: Retrain (more lists) once the gallery is this many times the size the index was built for.
GROWTH_RETRAIN_FACTOR = 4
_ADD_CHUNK = 200_000
_KMEANS_ITERATIONS = 10


@dataclass(frozen=True, slots=True)
class AnnParams:
    """How the approximate index is built; recorded in the store and in ``state.json``."""

    nlist: int
    pq_subquantizers: int
    nprobe: int
    rerank_candidates: int
    quantizer: str  # "flat" or "hnsw"
    trained_on: int = 0

    @property
    def code_bytes(self) -> int:
        return self.pq_subquantizers // 2

    def factory_string(self) -> str:
        # 4-bit codes scanned with SIMD ("fast scan"): 4 to 5 times faster than 8-bit PQ at
        # the same recall once the short list is re-ranked exactly (bench/search.py).
        quantizer = "_HNSW32" if self.quantizer == "hnsw" else ""
        return f"IVF{self.nlist}{quantizer},PQ{self.pq_subquantizers}x4fs"

    @classmethod
    def choose(cls, faces: int, options: IndexOptions) -> AnnParams:
        """Parameters for ``faces`` faces: ``ann_nlist`` when set, else the power of two nearest
        2.5 * sqrt(faces), and never fewer than 39 training faces a list (FAISS's minimum);
        ``ann_nprobe`` when set, else a 16th of the lists and at least 256 (recall@1 against
        exact search of 0.998 at 1M faces, 0.996 at 10M: docs/benchmarks.md)."""
        recorded = options.recorded_params
        if (
            recorded
            and recorded.get("kind") == "ivfpq"
            and GROWTH_RETRAIN_FACTOR * recorded.get("trained_on", 0) >= faces
        ):
            fields = {name: recorded[name] for name in cls.__dataclass_fields__ if name in recorded}
            return cls(**fields)
        nlist = options.ann_nlist or 2 ** round(math.log2(2.5 * math.sqrt(max(faces, 1))))
        nlist = max(1, min(nlist, faces // 39))
        return cls(
            nlist=nlist,
            pq_subquantizers=options.ann_pq_subquantizers,
            nprobe=options.ann_nprobe or max(nlist // 16, min(256, nlist)),
            rerank_candidates=options.ann_rerank_candidates,
            quantizer="hnsw" if nlist >= HNSW_QUANTIZER_MIN_NLIST else "flat",
        )


class FaissTieredIndex(VectorIndex):
    backend = "faiss-tiered"

    def __init__(self, model: ModelId, folder: Path, options: IndexOptions | None = None) -> None:
        super().__init__(model, folder, options)
        self._lock = threading.RLock()
        self._vectors = self._open_vectors(self.options.cipher)
        self._state_file = folder / "state.json"
        self._live_file = folder / "live.npy"
        self._ivf_file = folder / "ivfpq.faiss"
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
        if not self._state_file.exists():
            return False  # a new index
        problem: str | None
        try:
            state = json.loads(self._state_file.read_text())
            if not isinstance(state, dict):
                raise ValueError("state.json holds no object")
        except (OSError, ValueError) as exc:
            state, problem = {}, f"cannot be read ({exc})"
        else:
            if state.get("model") != str(self.model) or state.get("backend") != self.backend:
                return False
            problem = self._key_problem(state.get("sealed_with"))
        if problem is None:
            try:
                self._open_state(state)
                return True
            except DecryptionError:
                problem = "does not open with the configured key"
            except Exception as exc:  # derived files: any damage means rebuild
                problem = f"cannot be read ({type(exc).__name__}: {exc})"
        log.warning(
            "the index in %s %s; starting empty (the engine rebuilds it from the store)",
            self.folder,
            problem,
        )
        return False

    def _open_state(self, state: dict[str, Any]) -> None:
        """Read the files ``state`` names; raises, changing nothing, when one is unreadable."""
        cipher = self.options.cipher
        live = np.load(self._live_file).astype(bool)
        ivf = None
        if state.get("ann"):
            if cipher is None:
                ivf = faiss.read_index(str(self._ivf_file))
            else:
                ivf = faiss.deserialize_index(read_sealed_file(self._ivf_file, cipher))
        ids = np.flatnonzero(live).astype(np.int64)
        # The vector file must hold the faces the state names, under this key: a crash in
        # the middle of ``rekey`` leaves one re-sealed and the state not yet (a sample of
        # rows is read; DecryptionError when they do not open).
        sample = ids[np.linspace(0, len(ids) - 1, num=min(len(ids), 16)).astype(np.int64)]
        if len(sample) and int(sample.max()) >= self._vectors.capacity:
            raise ValueError("the vector file holds fewer faces than the state names")
        self._vectors.read(sample)
        exact = None
        if ivf is None:
            exact = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
            for start in range(0, len(ids), _ADD_CHUNK):
                chunk = ids[start : start + _ADD_CHUNK]
                exact.add_with_ids(self._vectors.read(chunk), chunk)
        self._live = live
        self._count = len(ids)
        self._exact, self._ivf = exact, ivf
        if ivf is not None:
            self._ann = AnnParams(**state["ann"])
            self._search_params = _search_parameters(self._ann)

    def _discard_files(self) -> None:
        """Remove every persisted file and start a new vector file: ``state.json`` first, so
        that a crash midway never leaves a state naming files that are gone. Removed, not
        truncated: a process still mapping the old vector file keeps its pages."""
        self._state_file.unlink(missing_ok=True)
        for path in (
            self._ivf_file,
            self._live_file,
            self._ivf_file.with_suffix(".tmp"),
            self._ivf_file.with_name(self._ivf_file.name + ".tmp"),
            self.folder / "live.tmp.npy",
            self._state_file.with_suffix(".tmp"),
            self.folder / PLAIN_NAME,
            self.folder / SEALED_NAME,
            self.folder / (PLAIN_NAME + ".tmp"),
            self.folder / (SEALED_NAME + ".tmp"),
        ):
            path.unlink(missing_ok=True)
        self._vectors = self._open_vectors(self.options.cipher)

    def _mark(self, ids: IdArray, live: bool) -> None:
        if live and len(ids) and int(ids.max()) >= len(self._live):
            grown = np.zeros(max(int(ids.max()) + 1, 2 * len(self._live)), dtype=bool)
            grown[: len(self._live)] = self._live
            self._live = grown
        self._live[ids] = live

    def _present(self, ids: IdArray) -> IdArray:
        inside = ids[(ids >= 0) & (ids < len(self._live))]
        return np.unique(inside[self._live[inside]])

    # --- the contract ------------------------------------------------------------------

    def add(self, ids: IdArray, vectors: FloatArray) -> None:
        array = self._check(vectors, "vectors")
        id_array = np.ascontiguousarray(ids, dtype=np.int64)
        if len(id_array) != len(array):
            raise ValueError(f"{len(id_array)} ids for {len(array)} vectors")
        if not len(id_array):
            return
        check_ids(id_array)
        with self._lock:
            if len(self._present(id_array)) or len(np.unique(id_array)) < len(id_array):
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
                return self._search_exact_index(array, k, allowed)
            if allowed is not None and len(allowed) <= EXACT_FILTER_MAX_FACES:
                return self._search_exact_subset(array, k, allowed)
            assert self._ann is not None
            shortlist = max(k, self._ann.rerank_candidates)
            if allowed is not None:  # fast scan takes no id selector: widen, then filter
                shortlist *= 4
            _, candidates = self._ivf.search(array, shortlist, params=self._search_params)
            if allowed is not None:
                candidates = np.where(np.isin(candidates, allowed), candidates, -1)
            return self._rerank(array, candidates, k)

    def _search_exact_index(
        self, queries: FloatArray, k: int, allowed: IdArray | None
    ) -> tuple[FloatArray, IdArray]:
        params = None
        if allowed is not None:
            params = faiss.SearchParameters()
            params.sel = faiss.IDSelectorBatch(allowed)
        assert self._exact is not None
        scores, ids = self._exact.search(queries, k, params=params)
        scores = np.where(ids >= 0, np.clip(scores, -1.0, 1.0), MISSING_SCORE)
        return scores.astype(np.float32), ids.astype(np.int64)

    def _search_exact_subset(
        self, queries: FloatArray, k: int, allowed: IdArray
    ) -> tuple[FloatArray, IdArray]:
        """Exact search over a few faces (a small collection), straight from the vectors."""
        scores = np.clip(queries @ self._vectors.read(allowed).T, -1.0, 1.0)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        top_scores = np.take_along_axis(scores, order, axis=1).astype(np.float32)
        top_ids = allowed[order]
        return _padded(top_scores, top_ids, k)

    def _rerank(
        self, queries: FloatArray, candidates: IdArray, k: int
    ) -> tuple[FloatArray, IdArray]:
        """Score each query's candidates (n, c) exactly and keep the best ``k``; tombstones and
        repeats of an id (a face deleted and added again) are dropped."""
        candidates = np.array(candidates, dtype=np.int64)
        known = (candidates >= 0) & (candidates < len(self._live))
        candidates[known & ~self._live[np.where(known, candidates, 0)]] = -1
        candidates[~known] = -1
        by_id = np.sort(candidates, axis=1)
        if (by_id[:, 1:] == by_id[:, :-1])[by_id[:, 1:] >= 0].any():
            for row in candidates:
                _, first = np.unique(row, return_index=True)
                repeated = np.ones(len(row), dtype=bool)
                repeated[first] = False
                row[repeated] = -1
        vectors = self._vectors.read(candidates)  # (n, c, dim); -1 padding reads as zeros
        scores = np.einsum("ncd,nd->nc", vectors, queries)
        scores = np.where(candidates >= 0, np.clip(scores, -1.0, 1.0), MISSING_SCORE)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        top_scores = np.take_along_axis(scores, order, axis=1).astype(np.float32)
        top_ids = np.take_along_axis(np.asarray(candidates, dtype=np.int64), order, axis=1)
        top_ids = np.where(np.isfinite(top_scores), top_ids, -1)
        return _padded(top_scores, top_ids, k)

    def count(self) -> int:
        return self._count

    def ids(self) -> IdArray:
        return np.flatnonzero(self._live).astype(np.int64)

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
        try:
            if current is not None and current_ann is not None and not retrain:
                ann = current_ann
                ivf = faiss.clone_index(current)
                ivf.reset()
            else:
                ann = replace(AnnParams.choose(len(ids), self.options), trained_on=len(ids))
                ivf = self._train(ann, ids)
            for start in range(0, len(ids), _ADD_CHUNK):
                chunk = ids[start : start + _ADD_CHUNK]
                ivf.add_with_ids(self._read_unlocked(chunk), chunk)
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
            self._search_params = _search_parameters(ann)
            self._journal = None
            self._builder = None
            self._ivf_dirty = True
            self.build_seconds = time.perf_counter() - started
        log.info(
            "approximate index %s swapped in (%.1f s)", ann.factory_string(), self.build_seconds
        )

    def _train(self, ann: AnnParams, ids: IdArray) -> Any:
        # L2 on unit vectors ranks like the inner product, and is what IVF-PQ residuals suit.
        ivf = faiss.index_factory(self.dim, ann.factory_string(), faiss.METRIC_L2)
        ivfpq: Any = faiss.downcast_index(faiss.extract_index_ivf(ivf))
        ivfpq.cp.niter = _KMEANS_ITERATIONS
        ivfpq.pq.cp.niter = _KMEANS_ITERATIONS
        sample_size = min(len(ids), max(self.options.ann_train_faces, 39 * ann.nlist))
        rng = np.random.default_rng(0)
        sample = np.sort(rng.choice(ids, size=sample_size, replace=False))
        ivf.train(self._read_unlocked(sample))
        if ann.quantizer == "hnsw":  # for assigning faces to lists; searches pass their own
            quantizer: Any = faiss.downcast_index(ivfpq.quantizer)
            quantizer.hnsw.efSearch = HNSW_ASSIGN_EF
        return ivf

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
                self._search_params = _search_parameters(self._ann)

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
            cipher = self.options.cipher
            self.folder.mkdir(parents=True, exist_ok=True)
            self._vectors.flush()
            if self._ivf is not None and (self._ivf_dirty or not self._ivf_file.exists()):
                if cipher is None:
                    tmp = self._ivf_file.with_suffix(".tmp")
                    faiss.write_index(self._ivf, str(tmp))
                    os.replace(tmp, self._ivf_file)
                else:
                    write_sealed_file(self._ivf_file, faiss.serialize_index(self._ivf), cipher)
                self._ivf_dirty = False
            live_tmp = self.folder / "live.tmp.npy"
            np.save(live_tmp, self._live)
            os.replace(live_tmp, self._live_file)
            state = {
                "model": str(self.model),
                "backend": self.backend,
                "ann": asdict(self._ann) if self._ann is not None else None,
                "sealed_with": cipher.key_id if cipher is not None else None,
            }
            state_tmp = self._state_file.with_suffix(".tmp")
            state_tmp.write_text(json.dumps(state))
            os.replace(state_tmp, self._state_file)
            if self._ivf is None:
                # No longer named by the state (cleared): its codes are of erased faces.
                self._ivf_file.unlink(missing_ok=True)

    def rekey(self, cipher: TemplateCipher) -> None:
        """Seal every file with ``cipher`` from now on: the vector rows re-encrypted into a
        new file that replaces the old one, the approximate index re-sealed, then persisted.
        A crash midway leaves files that the recorded key no longer opens: the next open
        discards them and starts empty (the engine rebuilds from the store), never reads a
        mix."""
        self.wait_for_build()  # a build reads the vector file that is replaced here
        with self._lock:
            old_path = self._vectors.path
            self._vectors = self._vectors.resealed(self.folder / vector_file_name(cipher), cipher)
            self.options = replace(self.options, cipher=cipher)
            self._ivf_dirty = True
            self.persist()
            if old_path != self._vectors.path:  # plain to sealed: the plain file goes
                old_path.unlink(missing_ok=True)


def _search_parameters(ann: AnnParams) -> Any:
    """Per-search FAISS parameters. The HNSW over the centroids must look at least as far as
    the number of lists probed, or it returns fewer lists than asked; assigning a new face to
    its one nearest list (the quantizer's own setting) needs far less."""
    params: Any = faiss.SearchParametersIVF()
    params.nprobe = ann.nprobe
    if ann.quantizer == "hnsw":
        quantizer_params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # stubs
        quantizer_params.efSearch = max(HNSW_ASSIGN_EF, 2 * ann.nprobe)
        params.quantizer_params = quantizer_params
        params.keep_alive = quantizer_params  # SWIG holds no reference of its own
    return params


def _padded(scores: FloatArray, ids: IdArray, k: int) -> tuple[FloatArray, IdArray]:
    """Pad to ``k`` columns when fewer candidates than ``k`` qualified."""
    missing = k - scores.shape[1]
    if missing > 0:
        scores = np.pad(scores, ((0, 0), (0, missing)), constant_values=MISSING_SCORE)
        ids = np.pad(ids, ((0, 0), (0, missing)), constant_values=-1)
    return scores, ids


register_index(FaissTieredIndex.backend, FaissTieredIndex)
