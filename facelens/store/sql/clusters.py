"""Proposed persons (clusters of unnamed faces) and their members."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from facelens.errors import ConflictError, InvalidArgumentError, NotFoundError
from facelens.store.contract.clusters import CLUSTER_STATUSES, PROPOSED
from facelens.store.records import ClusterRecord
from facelens.store.schema import (
    CollectionRow,
    FaceClusterMemberRow,
    FaceClusterRow,
    FaceRow,
    ImageRow,
)
from facelens.store.sql.rows import ACCEPTED, _chunks
from facelens.store.sql.templates import Templates
from facelens.types import IdArray, ModelId


def drop_empty_clusters(session: Session) -> None:
    """Delete the clusters left with no face (after a deletion or an assignment)."""
    members = select(FaceClusterMemberRow.cluster_id)
    session.execute(delete(FaceClusterRow).where(FaceClusterRow.id.not_in(members)))


def leave_clusters(session: Session, face_ids: Sequence[int]) -> None:
    """Take faces out of their clusters (they are a person's now)."""
    for chunk in _chunks(face_ids):
        session.execute(delete(FaceClusterMemberRow).where(FaceClusterMemberRow.face_id.in_(chunk)))
    drop_empty_clusters(session)


class Clusters(Templates):
    """Clusters by collection, each face in one at most."""

    def add_clusters(self, collection: str, groups: Sequence[Sequence[int]]) -> list[int]:
        if any(len(group) < 2 for group in groups):
            raise InvalidArgumentError("a cluster needs at least 2 faces")
        with self._session.begin() as session:
            collection_id = self._collection_id(session, collection)
            self._check_members(session, collection_id, [f for g in groups for f in g])
            ids = []
            for group in groups:
                row = FaceClusterRow(collection_id=collection_id, status=PROPOSED)
                session.add(row)
                session.flush()
                session.add_all(
                    FaceClusterMemberRow(face_id=int(f), cluster_id=row.id) for f in group
                )
                ids.append(row.id)
        return ids

    def add_to_cluster(self, cluster_id: int, face_ids: Sequence[int]) -> None:
        with self._session.begin() as session:
            row = self._cluster_row(session, cluster_id)
            self._check_members(session, row.collection_id, face_ids)
            session.add_all(
                FaceClusterMemberRow(face_id=int(f), cluster_id=cluster_id) for f in face_ids
            )
            row.updated_at = datetime.now(UTC)

    def _check_members(self, session: Session, collection_id: int, face_ids: Sequence[int]) -> None:
        ids = [int(f) for f in face_ids]
        if len(set(ids)) != len(ids):
            raise InvalidArgumentError("a face is given twice")
        rows: list[tuple[int, int, int | None, str]] = []
        for chunk in _chunks(ids):
            found = session.execute(
                select(FaceRow.id, ImageRow.collection_id, FaceRow.person_id, FaceRow.status)
                .join(ImageRow, FaceRow.image_id == ImageRow.id)
                .where(FaceRow.id.in_(chunk))
            )
            rows += [(int(r[0]), int(r[1]), r[2], str(r[3])) for r in found]
        missing = sorted(set(ids) - {r[0] for r in rows})
        if missing:
            raise NotFoundError(f"no face with id {', '.join(map(str, missing))}")
        elsewhere = sorted(r[0] for r in rows if r[1] != collection_id or r[3] != ACCEPTED)
        if elsewhere:
            raise InvalidArgumentError(
                f"faces {elsewhere} are not accepted faces of the cluster's collection"
            )
        named = sorted(r[0] for r in rows if r[2] is not None)
        taken = set()
        for chunk in _chunks(ids):
            taken |= set(
                session.scalars(
                    select(FaceClusterMemberRow.face_id).where(
                        FaceClusterMemberRow.face_id.in_(chunk)
                    )
                )
            )
        if named or taken:
            raise ConflictError(
                f"faces {sorted(set(named) | taken)} are already a person's or in a cluster"
            )

    def _cluster_row(self, session: Session, cluster_id: int) -> FaceClusterRow:
        row = session.get(FaceClusterRow, cluster_id)
        if row is None:
            raise NotFoundError(f"no proposed person (cluster) with id {cluster_id}")
        return row

    def clusters(
        self, collection: str | None = None, status: str | None = None
    ) -> list[ClusterRecord]:
        with self._session() as session:
            query = select(FaceClusterRow, CollectionRow.name).join(
                CollectionRow, FaceClusterRow.collection_id == CollectionRow.id
            )
            if collection is not None:
                query = query.where(
                    FaceClusterRow.collection_id == self._collection_id(session, collection)
                )
            if status is not None:
                query = query.where(FaceClusterRow.status == status)
            found = session.execute(query.order_by(FaceClusterRow.id)).all()
            members: dict[int, list[int]] = {row.id: [] for row, _ in found}
            for face_id, cluster_id in session.execute(
                select(FaceClusterMemberRow.face_id, FaceClusterMemberRow.cluster_id)
                .where(FaceClusterMemberRow.cluster_id.in_(list(members)))
                .order_by(FaceClusterMemberRow.face_id)
            ):
                members[cluster_id].append(face_id)
        return [
            ClusterRecord(
                cluster_id=row.id,
                collection=name,
                status=row.status,
                face_ids=members[row.id],
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
            for row, name in found
        ]

    def cluster(self, cluster_id: int) -> ClusterRecord:
        with self._session() as session:
            row = self._cluster_row(session, cluster_id)
            name = session.scalar(
                select(CollectionRow.name).where(CollectionRow.id == row.collection_id)
            )
        [record] = [c for c in self.clusters(name) if c.cluster_id == cluster_id]
        return record

    def set_cluster_status(self, cluster_id: int, status: str) -> None:
        if status not in CLUSTER_STATUSES:
            raise InvalidArgumentError(
                f"a cluster is {' or '.join(CLUSTER_STATUSES)}, not {status!r}"
            )
        with self._session.begin() as session:
            row = self._cluster_row(session, cluster_id)
            row.status = status
            row.updated_at = datetime.now(UTC)

    def delete_cluster(self, cluster_id: int) -> None:
        with self._session.begin() as session:
            self._cluster_row(session, cluster_id)
            session.execute(
                delete(FaceClusterMemberRow).where(FaceClusterMemberRow.cluster_id == cluster_id)
            )
            session.execute(delete(FaceClusterRow).where(FaceClusterRow.id == cluster_id))

    def unclustered_face_ids(self, collection: str, model: ModelId) -> IdArray:
        with self._session() as session:
            collection_id = self._collection_id(session, collection)
            model_id = self._known_model_id(session, model)
            if model_id is None:
                return np.zeros(0, dtype=np.int64)
            ids = session.scalars(
                select(FaceRow.id)
                .join(ImageRow, FaceRow.image_id == ImageRow.id)
                .where(
                    ImageRow.collection_id == collection_id,
                    FaceRow.status == ACCEPTED,
                    FaceRow.model_id == model_id,
                    FaceRow.person_id.is_(None),
                    FaceRow.id.not_in(select(FaceClusterMemberRow.face_id)),
                )
                .order_by(FaceRow.id)
            ).all()
        array = np.asarray(ids, dtype=np.int64)
        quarantined = self.quarantined_face_ids()
        return array[~np.isin(array, quarantined)] if quarantined else array
