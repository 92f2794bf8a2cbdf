"""Reading the sealed templates back, and the quarantine of those that do not open."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from sqlalchemy import select

from facelens.errors import DecryptionError
from facelens.store.schema import FaceRow
from facelens.store.sql.core import SqlCore
from facelens.store.sql.rows import ACCEPTED, QUARANTINE_META, _chunks
from facelens.types import FloatArray, IdArray, ModelId

log = logging.getLogger(__name__)


class Templates(SqlCore):
    """Embeddings in batches; templates that do not open are quarantined."""

    def indexed_face_ids(self, model: ModelId) -> IdArray:
        with self._session() as session:
            model_id = self._known_model_id(session, model)
            if model_id is None:
                return np.zeros(0, dtype=np.int64)
            ids = session.scalars(
                select(FaceRow.id)
                .where(FaceRow.model_id == model_id, FaceRow.status == ACCEPTED)
                .order_by(FaceRow.id)
            ).all()
        quarantined = self.quarantined_face_ids()
        array = np.asarray(ids, dtype=np.int64)
        return array[~np.isin(array, quarantined)] if quarantined else array

    def quarantined_face_ids(self) -> list[int]:
        recorded = self.get_meta(QUARANTINE_META)
        if not recorded:
            return []
        listed = [int(i) for i in json.loads(recorded)]
        with self._session() as session:
            present: set[int] = set()
            for chunk in _chunks(listed):
                present |= set(session.scalars(select(FaceRow.id).where(FaceRow.id.in_(chunk))))
        if len(present) != len(listed):  # deleted since: no longer quarantined
            self.set_meta(QUARANTINE_META, json.dumps(sorted(present)))
        return sorted(present)

    def _quarantine(self, face_ids: Sequence[int]) -> None:
        recorded = self.get_meta(QUARANTINE_META)
        known = {int(i) for i in json.loads(recorded)} if recorded else set()
        new = sorted(set(face_ids) - known)
        if not new:
            return
        self.set_meta(QUARANTINE_META, json.dumps(sorted(known | set(new))))
        log.warning(
            "the stored templates of faces %s do not open (damaged bytes, or sealed with "
            "another key): quarantined, left out of the index and search; `facelens doctor` "
            "lists them, `facelens delete --face ID` removes one",
            new,
        )

    def scan_templates(self, model: ModelId) -> list[int]:
        for _ in self.embeddings(model):
            pass  # opening every template quarantines those that fail
        return self.quarantined_face_ids()

    def embeddings(
        self, model: ModelId, *, face_ids: Sequence[int] | None = None, batch_size: int = 10_000
    ) -> Iterator[tuple[IdArray, FloatArray]]:
        with self._session() as session:
            model_id = self._known_model_id(session, model)
            if model_id is None:
                return
            base = select(FaceRow.id, FaceRow.embedding).where(
                FaceRow.model_id == model_id, FaceRow.status == ACCEPTED
            )
            if face_ids is None:
                last = -1
                while True:  # keyset pagination: constant memory at any gallery size
                    rows = session.execute(
                        base.where(FaceRow.id > last).order_by(FaceRow.id).limit(batch_size)
                    ).all()
                    if not rows:
                        return
                    last = rows[-1][0]
                    yield self._unpack(rows, model.dim)
            else:
                for chunk in _chunks(face_ids):
                    rows = session.execute(base.where(FaceRow.id.in_(chunk))).all()
                    if rows:
                        yield self._unpack(rows, model.dim)

    def _unpack(self, rows: Sequence[Any], dim: int) -> tuple[IdArray, FloatArray]:
        """Ids and opened vectors of ``rows``; a row that does not open is quarantined and
        left out: one damaged template must never stop the whole folder."""
        kept: list[int] = []
        plain: list[bytes] = []
        bad: list[int] = []
        for face_id, blob in rows:
            try:
                vector = self.cipher.open(blob)
            except DecryptionError:
                bad.append(face_id)
                continue
            if len(vector) != dim * 4:
                bad.append(face_id)
                continue
            kept.append(face_id)
            plain.append(vector)
        if bad:
            self._quarantine(bad)
        ids = np.asarray(kept, dtype=np.int64)
        vectors = np.frombuffer(b"".join(plain), dtype="<f4").reshape(-1, dim)
        return ids, vectors.astype(np.float32)
