"""Collections with their legal basis, and the store-wide counts (persons: ``persons``)."""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from facelens.errors import ConflictError
from facelens.face_sizes import SIZE_BANDS, in_band_order
from facelens.privacy.policy import CollectionPolicy
from facelens.store.records import StoreCounts
from facelens.store.schema import CollectionRow, FaceRow, ImageRow, PersonRow
from facelens.store.sql.rows import ACCEPTED, REJECTED, _policy, _set_policy
from facelens.store.sql.sealing import Sealing


class Catalogue(Sealing):
    """Collections and counts."""

    def ensure_collection(self, name: str) -> int:
        """Id of the collection named ``name``, created if missing (once, when two writers
        make it at the same time: the second's insert fails on the unique name, and it reads
        the first's row)."""
        try:
            with self._session.begin() as session:
                found = session.scalar(select(CollectionRow.id).where(CollectionRow.name == name))
                if found is not None:
                    return found
                row = CollectionRow(name=name)
                session.add(row)
                session.flush()
                return row.id
        except IntegrityError:
            with self._session() as session:
                found = session.scalar(select(CollectionRow.id).where(CollectionRow.name == name))
            if found is None:
                raise
            return found

    def create_collection(self, name: str, policy: CollectionPolicy) -> None:
        # One transaction: a policy the database refuses leaves no collection without one.
        try:
            with self._session.begin() as session:
                row = CollectionRow(name=name)
                _set_policy(row, policy)
                session.add(row)
        except IntegrityError as exc:
            raise ConflictError(f"a collection named {name!r} exists already") from exc

    def set_collection_policy(self, name: str, policy: CollectionPolicy) -> None:
        with self._session.begin() as session:
            row = session.get(CollectionRow, self._collection_id(session, name))
            assert row is not None
            _set_policy(row, policy)
            if policy.seal_locations:
                self._seal_locations(session, row.id)  # its images' paths too, at once

    def collection_policy(self, name: str) -> CollectionPolicy | None:
        with self._session() as session:
            row = session.get(CollectionRow, self._collection_id(session, name))
            assert row is not None
            return _policy(row)

    def collection_policies(self) -> dict[str, CollectionPolicy | None]:
        with self._session() as session:
            rows = session.scalars(select(CollectionRow).order_by(CollectionRow.name))
            return {row.name: _policy(row) for row in rows}

    def collection_names(self) -> list[str]:
        with self._session() as session:
            return list(session.scalars(select(CollectionRow.name).order_by(CollectionRow.name)))

    def collection_counts(self, name: str) -> tuple[int, int]:
        with self._session() as session:
            collection_id = self._collection_id(session, name)
            images = session.scalar(
                select(func.count()).where(ImageRow.collection_id == collection_id)
            )
            faces = session.scalar(
                select(func.count())
                .select_from(FaceRow)
                .join(ImageRow, FaceRow.image_id == ImageRow.id)
                .where(ImageRow.collection_id == collection_id, FaceRow.status == ACCEPTED)
            )
            return images or 0, faces or 0

    def counts(self) -> StoreCounts:
        # One grouped query: faces by status, reason and size band (size_px is stored plain).
        band = case(
            *((FaceRow.size_px < b.max_px, b.name) for b in SIZE_BANDS if b.max_px is not None),
            else_=SIZE_BANDS[-1].name,
        ).label("band")
        by_status: dict[str, int] = {}
        accepted_by_size: dict[str, int] = {}
        rejected_by_size: dict[str, dict[str, int]] = {}
        with self._session() as session:
            grouped = session.execute(
                select(FaceRow.status, FaceRow.rejection_reason, band, func.count()).group_by(
                    FaceRow.status, FaceRow.rejection_reason, band
                )
            ).all()
            for status, reason, band_name, count in grouped:
                by_status[status] = by_status.get(status, 0) + count
                if status == ACCEPTED:
                    accepted_by_size[band_name] = count
                else:
                    rejected_by_size.setdefault(reason or "unknown", {})[band_name] = count
            return StoreCounts(
                collections=session.scalar(select(func.count()).select_from(CollectionRow)) or 0,
                images=session.scalar(select(func.count()).select_from(ImageRow)) or 0,
                faces_accepted=by_status.get(ACCEPTED, 0),
                faces_rejected=by_status.get(REJECTED, 0),
                persons=session.scalar(select(func.count()).select_from(PersonRow)) or 0,
                faces_accepted_by_size=in_band_order(accepted_by_size),
                faces_rejected_by_size={
                    reason: in_band_order(bands)
                    for reason, bands in sorted(rejected_by_size.items())
                },
            )
