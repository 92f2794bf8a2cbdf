"""The approximate tier of ``faiss-tiered``: an IVF-PQ index, its parameters and its builds.

``AnnParams`` chooses the parameters for a gallery size (or reuses those recorded in the
store); ``fill_ivfpq`` makes an index holding given faces, trained anew or reusing the trained
quantizers of the current one (compaction); ``search_parameters`` are what each search passes.
Nothing here holds a lock or touches a file: the vectors come through a reader.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import faiss
import numpy as np

from facelens.index.base import IndexOptions
from facelens.types import FloatArray, IdArray

#: An HNSW graph over the list centroids makes assigning millions of faces fast.
HNSW_QUANTIZER_MIN_NLIST = 4096
HNSW_ASSIGN_EF = 64
#: Retrain (more lists) once the gallery is this many times the size the index was built for.
GROWTH_RETRAIN_FACTOR = 4
#: Faces added to a FAISS index in one call (bounds the transient copy of their vectors).
ADD_CHUNK = 200_000
KMEANS_ITERATIONS = 10


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


def fill_ivfpq(
    dim: int,
    ids: IdArray,
    options: IndexOptions,
    read: Callable[[IdArray], FloatArray],
    current: tuple[Any, AnnParams] | None = None,
) -> tuple[Any, AnnParams]:
    """An IVF-PQ index holding the faces ``ids`` (their vectors from ``read``), and its
    parameters. With ``current`` (an index and its parameters), its trained quantizers are
    reused (compaction: same training, no tombstones); without, it is trained anew."""
    if current is not None:
        ivf, ann = faiss.clone_index(current[0]), current[1]
        ivf.reset()
    else:
        ann = replace(AnnParams.choose(len(ids), options), trained_on=len(ids))
        ivf = _train(dim, ann, ids, options.ann_train_faces, read)
    for start in range(0, len(ids), ADD_CHUNK):
        chunk = ids[start : start + ADD_CHUNK]
        ivf.add_with_ids(read(chunk), chunk)
    return ivf, ann


def _train(
    dim: int, ann: AnnParams, ids: IdArray, train_faces: int, read: Callable[[IdArray], FloatArray]
) -> Any:
    # L2 on unit vectors ranks like the inner product, and is what IVF-PQ residuals suit.
    ivf = faiss.index_factory(dim, ann.factory_string(), faiss.METRIC_L2)
    ivfpq: Any = faiss.downcast_index(faiss.extract_index_ivf(ivf))
    ivfpq.cp.niter = KMEANS_ITERATIONS
    ivfpq.pq.cp.niter = KMEANS_ITERATIONS
    sample_size = min(len(ids), max(train_faces, 39 * ann.nlist))
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(ids, size=sample_size, replace=False))
    ivf.train(read(sample))
    if ann.quantizer == "hnsw":  # for assigning faces to lists; searches pass their own
        quantizer: Any = faiss.downcast_index(ivfpq.quantizer)
        quantizer.hnsw.efSearch = HNSW_ASSIGN_EF
    return ivf


def search_parameters(ann: AnnParams) -> Any:
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
