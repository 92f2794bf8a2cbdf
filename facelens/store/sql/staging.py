"""Embeddings of another model staged while the data folder is re-indexed, and the switch that
moves them into the faces all at once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sqlalchemy import delete, func, select, update

from facelens.errors import ConflictError, InvalidArgumentError
from facelens.store.schema import FaceRow, MetaRow, StagedEmbeddingRow
from facelens.store.sql.core import SqlCore
from facelens.store.sql.rows import ACCEPTED, QUARANTINE_META, _chunks
from facelens.types import FloatArray, IdArray, ModelId


class Staging(SqlCore):
    """Staged embeddings by face and target model."""

    def stage_embeddings(
        self, model: ModelId, face_ids: Sequence[int], vectors: FloatArray
    ) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(face_ids), model.dim):
            raise InvalidArgumentError(
                f"{len(face_ids)} faces of {model} need ({len(face_ids)}, {model.dim}) vectors, "
                f"got {vectors.shape}"
            )
        with self._session.begin() as session:
            model_id = self._model_id(session, model)
            ids = [int(i) for i in face_ids]
            for chunk in _chunks(ids):  # staged again: the newer embedding wins
                session.execute(
                    delete(StagedEmbeddingRow).where(
                        StagedEmbeddingRow.model_id == model_id,
                        StagedEmbeddingRow.face_id.in_(chunk),
                    )
                )
            session.add_all(
                StagedEmbeddingRow(
                    face_id=face_id, model_id=model_id, embedding=self.cipher.seal_vector(vector)
                )
                for face_id, vector in zip(ids, vectors, strict=True)
            )

    def staged_face_ids(self, model: ModelId) -> IdArray:
        with self._session() as session:
            model_id = self._known_model_id(session, model)
            if model_id is None:
                return np.zeros(0, dtype=np.int64)
            ids = session.scalars(
                select(StagedEmbeddingRow.face_id)
                .where(StagedEmbeddingRow.model_id == model_id)
                .order_by(StagedEmbeddingRow.face_id)
            ).all()
        return np.asarray(ids, dtype=np.int64)

    def switch_model(self, model: ModelId, meta: Mapping[str, str | None]) -> int:
        with self._session.begin() as session:
            model_id = self._known_model_id(session, model)
            staged = select(StagedEmbeddingRow.face_id).where(
                StagedEmbeddingRow.model_id == model_id
            )
            missing = session.scalar(
                select(func.count())
                .select_from(FaceRow)
                .where(FaceRow.status == ACCEPTED, FaceRow.id.not_in(staged))
            )
            if model_id is None or missing:
                raise ConflictError(
                    f"{missing} accepted faces have no staged embedding of {model}; nothing was "
                    "switched: rerun the reindex to stage them"
                )
            embedding = (
                select(StagedEmbeddingRow.embedding)
                .where(
                    StagedEmbeddingRow.face_id == FaceRow.id,
                    StagedEmbeddingRow.model_id == model_id,
                )
                .scalar_subquery()
            )
            switched = session.scalar(
                select(func.count()).select_from(FaceRow).where(FaceRow.status == ACCEPTED)
            )
            session.execute(
                update(FaceRow)
                .where(FaceRow.status == ACCEPTED)
                .values(model_id=model_id, embedding=embedding)
                .execution_options(synchronize_session=False)
            )
            session.execute(delete(StagedEmbeddingRow))
            # Every template is new and opens: none is quarantined any longer.
            session.execute(delete(MetaRow).where(MetaRow.key == QUARANTINE_META))
            for key, value in meta.items():
                if value is None:
                    session.execute(delete(MetaRow).where(MetaRow.key == key))
                else:
                    self._upsert_meta(session, key, value)
        return int(switched or 0)
