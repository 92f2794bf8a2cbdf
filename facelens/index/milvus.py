"""Search in Milvus: a Milvus server or cluster (``index_url=milvus://host:19530``) or a Milvus
Lite file (a path ending in .db; empty: ``milvus.db`` in the index folder).

One collection per model, named from the prefix and the ``ModelId`` (sanitised, with a hash
of the exact id so that two models never share one); the int64 primary key is the face id.
The metric is the inner product: vectors are L2-normalised, so it is the cosine similarity.
The index type and its build and search parameters are settings (``milvus_index_type``,
``milvus_index_params``, ``milvus_search_params``); FLAT, the default, is exact.

Like every index this one is derived data: the engine repairs it from the store on open. A
collection under this model's name with another layout (the analogue of a damaged index file)
is dropped and made anew; one indexed otherwise than configured is re-indexed in place.

Not sealed by facelens: the vectors in Milvus are plain float32 (``owns_files`` is False).
Encryption at rest there is Milvus's, its object storage's or the disk's (docs/scale-out.md).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

import numpy as np

from facelens.errors import InvalidArgumentError
from facelens.ids import unique_ids
from facelens.index.base import MISSING_SCORE, IndexOptions, VectorIndex
from facelens.index.milvus_client import (
    FILTER_MAX_IDS,
    ID_FIELD,
    MAX_TOPK,
    MilvusCollection,
    id_filter,
)
from facelens.index_settings import MilvusIndexType, is_server_url, milvus_lite_problem
from facelens.security.crypto import TemplateCipher
from facelens.types import FloatArray, IdArray, ModelId

log = logging.getLogger(__name__)

METRIC = "IP"
LITE_FILE = "milvus.db"
#: Longest wait for a compaction (erasure) on a server; Milvus Lite compacts at once.
COMPACT_TIMEOUT_S = 600.0


def milvus_uri(url: str, folder: Path) -> str:
    """What pymilvus is given: ``http://`` for ``milvus://``; a Lite file's absolute path."""
    if url.startswith("milvus://"):
        return "http://" + url.removeprefix("milvus://")
    if is_server_url(url):
        return url
    return str((Path(url).expanduser() if url else folder / LITE_FILE).resolve())


def collection_name(prefix: str, model: ModelId) -> str:
    """``<prefix>_<model, sanitised>_<8 hex of the exact model id>``: letters, digits, _."""
    exact = str(model)
    readable = re.sub(r"[^A-Za-z0-9_]+", "_", exact).strip("_")[:160]
    digest = hashlib.sha256(exact.encode()).hexdigest()[:8]
    return f"{prefix}_{readable}_{digest}"


class MilvusIndex(VectorIndex):
    backend = "milvus"
    owns_files = False

    def __init__(self, model: ModelId, folder: Path, options: IndexOptions | None = None) -> None:
        super().__init__(model, folder, options)
        o = self.options
        if o.milvus_index_type not in get_args(MilvusIndexType):
            raise InvalidArgumentError(
                f"milvus_index_type {o.milvus_index_type} is not one of "
                f"{', '.join(get_args(MilvusIndexType))}"
            )
        problem = milvus_lite_problem(o.milvus_url, o.milvus_index_type)
        if problem:
            raise InvalidArgumentError(problem)
        self.server = is_server_url(o.milvus_url)
        if not self.server:
            Path(milvus_uri(o.milvus_url, folder)).parent.mkdir(parents=True, exist_ok=True)
        self.collection = collection_name(o.milvus_collection_prefix, model)
        self._milvus = MilvusCollection(
            milvus_uri(o.milvus_url, folder), o.milvus_token, self.collection
        )
        self._open()
        if o.cipher is not None:
            log.info(
                "the vectors in Milvus collection %s are not sealed by facelens (the store's "
                "templates are); encryption at rest there is Milvus's or the disk's",
                self.collection,
            )

    # --- the collection --------------------------------------------------------------------

    def _create(self) -> None:
        o = self.options
        self._milvus.create(self.dim, o.milvus_index_type, METRIC, o.milvus_index_params)

    def _open(self) -> None:
        """Use the collection under this model's name if it is facelens's layout for this
        model; make it anew otherwise (the engine then repairs it from the store)."""
        if not self._milvus.exists():
            self._create()
            return
        key, dim = self._milvus.layout()
        if key != ID_FIELD or dim != self.dim:
            log.warning(
                "the Milvus collection %s does not hold %s as facelens lays it out (primary key "
                "%s, vector dimension %s; expected %s, %d); dropped and made anew (the engine "
                "rebuilds it from the store)",
                self.collection,
                self.model,
                key,
                dim,
                ID_FIELD,
                self.dim,
            )
            self._milvus.drop()
            self._create()
            return
        described = self._milvus.index_description()
        o = self.options
        if (
            described.get("index_type") != o.milvus_index_type
            or described.get("metric_type") != METRIC
        ):
            log.warning(
                "the Milvus collection %s is indexed %s/%s, not %s/%s as configured; re-indexed",
                self.collection,
                described.get("index_type"),
                described.get("metric_type"),
                o.milvus_index_type,
                METRIC,
            )
            self._milvus.rebuild_index(o.milvus_index_type, METRIC, o.milvus_index_params)
        else:
            self._milvus.load()

    # --- the contract ----------------------------------------------------------------------

    def add(self, ids: IdArray, vectors: FloatArray) -> None:
        id_array, array = self._check_added(ids, vectors)
        if len(id_array):
            self._milvus.insert(id_array, array)

    def search(
        self, queries: FloatArray, k: int, allowed_ids: IdArray | None = None
    ) -> tuple[FloatArray, IdArray]:
        """With ``allowed_ids``, each query is searched under ``id in [...]`` filters of at
        most ``FILTER_MAX_IDS`` ids (the set split into disjoint chunks) and the chunks' top
        ``k`` merged: exact with FLAT, as approximate as the index otherwise. A large allowed
        set costs one Milvus search per 10,000 ids."""
        array = self._check(queries, "queries")
        n, width = len(array), max(k, 0)
        if k > MAX_TOPK:
            raise InvalidArgumentError(f"k={k}: Milvus returns at most {MAX_TOPK} per query")
        scores = np.full((n, width), MISSING_SCORE, dtype=np.float32)
        ids = np.full((n, width), -1, dtype=np.int64)
        if n == 0 or k <= 0:
            return scores, ids
        if allowed_ids is None:
            chunks: list[str] = [""]
        else:
            allowed = unique_ids(allowed_ids)
            chunks = [
                id_filter(allowed[start : start + FILTER_MAX_IDS].tolist())
                for start in range(0, len(allowed), FILTER_MAX_IDS)
            ]
        params = self.options.milvus_search_params
        for expression in chunks:
            found_scores, found_ids = self._milvus.search(array, k, expression, METRIC, params)
            scores, ids = _merge(scores, ids, found_scores, found_ids, k)
        scores = np.where(ids >= 0, np.clip(scores, -1.0, 1.0), MISSING_SCORE)
        return scores.astype(np.float32), ids

    def remove(self, ids: IdArray) -> int:
        id_array = unique_ids(ids)
        if not len(id_array):
            return 0
        present = self._milvus.present(id_array.tolist())
        if len(present):
            self._milvus.delete(present.tolist())
        return len(present)

    def count(self) -> int:
        return self._milvus.count()

    def ids(self) -> IdArray:
        batches = [np.array(batch, dtype=np.int64) for batch in self._milvus.iter_ids()]
        return unique_ids(np.concatenate(batches)) if batches else np.zeros(0, dtype=np.int64)

    def persist(self) -> None:
        """Flush: Milvus seals the growing segments into its storage. (A row is durable in
        Milvus once ``insert`` returns; nothing is written to ``folder`` by facelens.)"""
        self._milvus.flush()

    def clear(self) -> None:
        """Drop the collection and make it anew, empty."""
        self._milvus.drop()
        self._create()

    def compact(self) -> None:
        """Erasure: flush, then have Milvus rewrite its segments without the deleted rows, and
        wait for it. (Old segment files left in a server's object storage are removed by
        Milvus's garbage collection later: docs/scale-out.md.)"""
        self._milvus.flush()
        if not self._milvus.compact(COMPACT_TIMEOUT_S):
            log.warning(
                "Milvus had not compacted %s after %.0f s; deleted rows are dropped when it has",
                self.collection,
                COMPACT_TIMEOUT_S,
            )

    def rekey(self, cipher: TemplateCipher) -> None:
        """Nothing is re-sealed here: facelens does not seal the vectors it keeps in Milvus
        (``owns_files`` is False), so there is no file of this index under the old key. The
        key is only recorded in the options. Key rotation re-seals the store's templates;
        encryption at rest in Milvus is Milvus's, its object storage's or the disk's."""
        self.options = replace(self.options, cipher=cipher)

    def params(self) -> dict[str, Any]:
        o = self.options
        return {
            "backend": self.backend,
            "milvus": "server" if self.server else "lite",
            "collection": self.collection,
            "index_type": o.milvus_index_type,
            "metric": METRIC,
            "index_params": dict(o.milvus_index_params),
            "search_params": dict(o.milvus_search_params),
            "sealed": False,
        }


def _merge(
    scores: FloatArray, ids: IdArray, more_scores: FloatArray, more_ids: IdArray, k: int
) -> tuple[FloatArray, IdArray]:
    """The best ``k`` of two ranked lists a row (padding -1 / -inf sorts last)."""
    all_scores = np.concatenate([scores, np.where(more_ids >= 0, more_scores, -np.inf)], axis=1)
    all_ids = np.concatenate([ids, more_ids], axis=1)
    order = np.argsort(-all_scores, axis=1, kind="stable")[:, :k]
    return (
        np.take_along_axis(all_scores, order, axis=1).astype(np.float32),
        np.take_along_axis(all_ids, order, axis=1),
    )
