"""A narrow, typed wrapper around pymilvus's ``MilvusClient`` for one collection of faces:
an int64 primary key ``id`` (the face id) and a float vector ``vector``.

Only calls that Milvus Lite and a Milvus server or cluster both accept are used: schema-first
``create_collection`` with index parameters, Strong consistency (a face added is found by the
next search), ``id in [...]`` filters written out (Lite has no filter templates), ``query``,
``query_iterator``, ``delete`` by ids, ``flush``, ``load_collection``. pymilvus has no type
hints; everything untyped stays inside this module.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from pymilvus import DataType, MilvusClient  # type: ignore[import-untyped]

from facelens.ids import unique_ids
from facelens.types import FloatArray, IdArray

ID_FIELD = "id"
VECTOR_FIELD = "vector"
#: Milvus's limit on ``limit`` (topk) and on the rows one ``query`` returns, on a server.
MAX_TOPK = 16_384
#: Queries sent in one search call (a server also caps nq at 16,384; results stay small).
QUERY_BATCH = 256
#: Rows sent in one insert (about 2.6 MB of 128-d float32; a server's gRPC limit is 64 MB).
INSERT_BATCH = 5_000
#: Ids written out in one ``id in [...]`` expression.
FILTER_MAX_IDS = 10_000


def id_filter(ids: Sequence[int]) -> str:
    """A boolean expression matching exactly ``ids``."""
    return f"{ID_FIELD} in [{', '.join(str(int(i)) for i in ids)}]"


class MilvusCollection:
    """One collection on one Milvus (Lite file or server)."""

    def __init__(self, uri: str, token: str | None, name: str) -> None:
        self.name = name
        self._client: Any = MilvusClient(uri=uri, token=token or "")

    # --- the collection itself -------------------------------------------------------------

    def exists(self) -> bool:
        return bool(self._client.has_collection(self.name))

    def layout(self) -> tuple[str | None, int | None]:
        """The primary key's field name when it is an int64, and the vector field's dimension
        (None where the collection does not have them as facelens makes them)."""
        description = self._client.describe_collection(self.name)
        key: str | None = None
        dim: int | None = None
        for field in description.get("fields", []):
            if field.get("is_primary") and field.get("type") == DataType.INT64:
                key = str(field.get("name"))
            if field.get("name") == VECTOR_FIELD and field.get("type") == DataType.FLOAT_VECTOR:
                dim = int(field.get("params", {}).get("dim", 0))
        return key, dim

    def index_description(self) -> dict[str, Any]:
        """What Milvus says of the vector field's index ({} when it has none)."""
        if VECTOR_FIELD not in (self._client.list_indexes(self.name) or []):
            return {}
        return dict(self._client.describe_index(self.name, VECTOR_FIELD) or {})

    def create(self, dim: int, index_type: str, metric: str, params: dict[str, Any]) -> None:
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field(ID_FIELD, DataType.INT64, is_primary=True)
        schema.add_field(VECTOR_FIELD, DataType.FLOAT_VECTOR, dim=dim)
        self._client.create_collection(
            self.name,
            schema=schema,
            index_params=self._index_params(index_type, metric, params),
            consistency_level="Strong",
        )
        self.load()

    def rebuild_index(self, index_type: str, metric: str, params: dict[str, Any]) -> None:
        """Replace the vector index (the rows stay): release, drop, create, load."""
        self._client.release_collection(self.name)
        if VECTOR_FIELD in (self._client.list_indexes(self.name) or []):
            self._client.drop_index(self.name, VECTOR_FIELD)
        self._client.create_index(self.name, self._index_params(index_type, metric, params))
        self.load()

    def _index_params(self, index_type: str, metric: str, params: dict[str, Any]) -> Any:
        index_params = self._client.prepare_index_params()
        index_params.add_index(
            field_name=VECTOR_FIELD, index_type=index_type, metric_type=metric, params=params
        )
        return index_params

    def load(self) -> None:
        """Searchable: a collection reopened (Lite) or released is loaded again."""
        self._client.load_collection(self.name)

    def drop(self) -> None:
        self._client.drop_collection(self.name)

    def flush(self) -> None:
        self._client.flush(self.name)

    def compact(self, timeout_s: float) -> bool:
        """Rewrite the segments without deleted rows, waiting for the job; False on timeout."""
        job = self._client.compact(self.name)
        deadline = time.monotonic() + timeout_s
        while str(self._client.get_compaction_state(job)) != "Completed":
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)
        return True

    def close(self) -> None:
        self._client.close()

    # --- rows ------------------------------------------------------------------------------

    def insert(self, ids: IdArray, vectors: FloatArray) -> None:
        for start in range(0, len(ids), INSERT_BATCH):
            rows = [
                {ID_FIELD: int(face), VECTOR_FIELD: vector}
                for face, vector in zip(
                    ids[start : start + INSERT_BATCH],
                    vectors[start : start + INSERT_BATCH],
                    strict=True,
                )
            ]
            self._client.insert(self.name, rows)

    def delete(self, ids: Sequence[int]) -> None:
        for start in range(0, len(ids), FILTER_MAX_IDS):
            chunk = ids[start : start + FILTER_MAX_IDS]
            self._client.delete(self.name, ids=[int(i) for i in chunk])

    def present(self, ids: Sequence[int]) -> IdArray:
        """Which of ``ids`` the collection holds."""
        found: list[int] = []
        for start in range(0, len(ids), FILTER_MAX_IDS):
            chunk = ids[start : start + FILTER_MAX_IDS]
            rows = self._client.query(
                self.name, filter=id_filter(chunk), output_fields=[ID_FIELD], limit=len(chunk)
            )
            found.extend(int(row[ID_FIELD]) for row in rows)
        return unique_ids(found)

    def count(self) -> int:
        rows = self._client.query(self.name, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def iter_ids(self, batch_size: int = MAX_TOPK) -> Iterator[list[int]]:
        """Every id held, a batch at a time (``query_iterator``: no 16,384-row cap)."""
        iterator = self._client.query_iterator(
            self.name, batch_size=batch_size, filter="", output_fields=[ID_FIELD]
        )
        try:
            while batch := iterator.next():
                yield [int(row[ID_FIELD]) for row in batch]
        finally:
            iterator.close()

    def search(
        self,
        queries: FloatArray,
        limit: int,
        expression: str,
        metric: str,
        params: dict[str, Any],
    ) -> tuple[FloatArray, IdArray]:
        """Scores (n, limit) float32 and ids (n, limit) int64 in Milvus's order, padded with
        -inf / -1 where fewer rows qualify."""
        n = len(queries)
        scores = np.full((n, limit), -np.inf, dtype=np.float32)
        ids = np.full((n, limit), -1, dtype=np.int64)
        for start in range(0, n, QUERY_BATCH):
            hits = self._client.search(
                self.name,
                data=[q for q in queries[start : start + QUERY_BATCH]],
                limit=limit,
                filter=expression,
                output_fields=[ID_FIELD],
                search_params={"metric_type": metric, "params": params},
            )
            for row, found in enumerate(hits, start=start):
                for column, hit in enumerate(found):
                    ids[row, column] = int(hit[ID_FIELD])
                    scores[row, column] = float(hit["distance"])
        return scores, ids
