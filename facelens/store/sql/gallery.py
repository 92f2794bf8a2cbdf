"""Collections with their legal basis, persons, and the store-wide counts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from facelens.errors import ConflictError, InvalidArgumentError, NotFoundError
from facelens.face_sizes import SIZE_BANDS, in_band_order
from facelens.privacy.policy import CollectionPolicy
from facelens.store.records import StoreCounts
from facelens.store.schema import CollectionRow, FaceRow, ImageRow, PersonRow
from facelens.store.sql.clusters import leave_clusters
from facelens.store.sql.rows import ACCEPTED, REJECTED, _policy, _set_policy
from facelens.store.sql.sealing import Sealing
from facelens.types import Person


class Catalogue(Sealing):
    """Collections, persons and counts."""

    def ensure_collection(self, name: str) -> int:
        """Id of the collection named ``name``, created if missing."""
        with self._session.begin() as session:
            found = session.scalar(select(CollectionRow.id).where(CollectionRow.name == name))
            if found is not None:
                return found
            row = CollectionRow(name=name)
            session.add(row)
            session.flush()
            return row.id

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

    def person_id(self, name: str) -> int | None:
        """Id of the person named ``name`` (found by the blind index), if there is one."""
        index = self._name_index(name)
        with self._session() as session:
            return session.scalar(select(PersonRow.id).where(PersonRow.name == index))

    def get_or_create_person(self, name: str) -> int:
        """Id of the person named ``name`` (found by the blind index), created if missing."""
        index = self._name_index(name)
        with self._session.begin() as session:
            found = session.scalar(select(PersonRow.id).where(PersonRow.name == index))
            if found is not None:
                return found
            row = PersonRow(name=index)  # the name is sealed once the row has its id
            session.add(row)
            session.flush()
            row.name_sealed = self._seal_name(row.id, name)
            return row.id

    def assign_faces(self, person_id: int, face_ids: Sequence[int]) -> None:
        with self._session.begin() as session:
            if session.get(PersonRow, person_id) is None:
                raise NotFoundError(f"no person with id {person_id}")
            found = set(session.scalars(select(FaceRow.id).where(FaceRow.id.in_(face_ids))))
            missing = sorted(set(face_ids) - found)
            if missing:
                raise NotFoundError(f"no face with id {', '.join(map(str, missing))}")
            session.execute(
                update(FaceRow).where(FaceRow.id.in_(face_ids)).values(person_id=person_id)
            )
            leave_clusters(session, face_ids)  # a person's face is no longer a proposal

    def persons(self) -> list[Person]:
        with self._session() as session:
            people = sorted(
                ((p.id, self._name(p)) for p in session.scalars(select(PersonRow))),
                key=lambda person: (person[1], person[0]),
            )  # by name: sorted here, the database holds them sealed
            faces: dict[int, list[int]] = {}
            for face_id, person_id in session.execute(
                select(FaceRow.id, FaceRow.person_id)
                .where(FaceRow.person_id.is_not(None))
                .order_by(FaceRow.id)
            ):
                if person_id is not None:
                    faces.setdefault(person_id, []).append(face_id)
            return [Person(id=i, name=n, face_ids=faces.get(i, [])) for i, n in people]

    def rename_person(self, person_id: int, name: str) -> None:
        try:
            with self._session.begin() as session:
                person = session.get(PersonRow, person_id)
                if person is None:
                    raise NotFoundError(f"no person with id {person_id}")
                person.name = self._name_index(name)
                person.name_sealed = self._seal_name(person.id, name)
                session.flush()  # a taken name fails here, inside the try
        except IntegrityError as exc:
            raise ConflictError(f"a person named {name!r} exists already") from exc

    def merge_persons(self, into_id: int, other_id: int) -> None:
        if into_id == other_id:
            raise InvalidArgumentError("a person cannot be merged into themselves")
        with self._session.begin() as session:
            for person_id in (into_id, other_id):
                if session.get(PersonRow, person_id) is None:
                    raise NotFoundError(f"no person with id {person_id}")
            session.execute(
                update(FaceRow).where(FaceRow.person_id == other_id).values(person_id=into_id)
            )
            session.execute(delete(PersonRow).where(PersonRow.id == other_id))
