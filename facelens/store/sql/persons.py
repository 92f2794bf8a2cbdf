"""Persons: named (names sealed, found by their blind index), given faces, merged and split,
and reviewers' "not this person" on a face, which no assignment or merge overrides."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facelens.errors import ConflictError, InvalidArgumentError, MatchRejectedError, NotFoundError
from facelens.store.records import PersonRejection
from facelens.store.schema import FaceRow, PersonRejectionRow, PersonRow
from facelens.store.sql.clusters import leave_clusters
from facelens.store.sql.rows import _chunks
from facelens.store.sql.sealing import Sealing
from facelens.types import Person


def _rejection(row: PersonRejectionRow) -> PersonRejection:
    return PersonRejection(
        id=row.id,
        person_id=row.person_id,
        face_id=row.face_id,
        rejected_by=row.rejected_by,
        rejected_at=row.rejected_at,
        withdrawn_by=row.withdrawn_by,
        withdrawn_at=row.withdrawn_at,
    )


def _ids(values: Iterable[int]) -> str:
    return ", ".join(map(str, sorted(set(values))))


class PersonRecords(Sealing):
    """Persons, their faces, and the faces reviewers said are not them."""

    def _check_person(self, session: Session, person_id: int) -> PersonRow:
        person = session.get(PersonRow, person_id)
        if person is None:
            raise NotFoundError(f"no person with id {person_id}")
        return person

    def _standing(
        self, session: Session, *criteria: ColumnElement[bool]
    ) -> list[PersonRejectionRow]:
        """The rejections not withdrawn that match ``criteria``, oldest first."""
        return list(
            session.scalars(
                select(PersonRejectionRow)
                .where(PersonRejectionRow.withdrawn_at.is_(None), *criteria)
                .order_by(PersonRejectionRow.id)
            )
        )

    def _refuse_rejected(self, session: Session, person_id: int, face_ids: Sequence[int]) -> None:
        """``MatchRejectedError`` when a reviewer said one of the faces is not the person."""
        rejected = self._standing(
            session,
            PersonRejectionRow.person_id == person_id,
            PersonRejectionRow.face_id.in_(face_ids),
        )
        if rejected:
            raise MatchRejectedError(
                f"face {_ids(r.face_id for r in rejected)} was marked not person {person_id} "
                f"(by {rejected[0].rejected_by}); withdraw the rejection first (`facelens "
                f"person unreject`, or POST /persons/{person_id}/rejections/"
                f"{rejected[0].face_id}/withdraw) if it was a mistake"
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
            return self._new_person(session, name)

    def _new_person(self, session: Session, name: str) -> int:
        row = PersonRow(name=self._name_index(name))  # sealed once the row has its id
        session.add(row)
        session.flush()
        row.name_sealed = self._seal_name(row.id, name)
        return row.id

    def assign_faces(self, person_id: int, face_ids: Sequence[int]) -> None:
        with self._session.begin() as session:
            self._check_person(session, person_id)
            found = set(session.scalars(select(FaceRow.id).where(FaceRow.id.in_(face_ids))))
            missing = sorted(set(face_ids) - found)
            if missing:
                raise NotFoundError(f"no face with id {', '.join(map(str, missing))}")
            self._refuse_rejected(session, person_id, face_ids)
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

    def face_persons(self, face_ids: Sequence[int]) -> dict[int, int]:
        wanted = {int(i) for i in face_ids}
        with self._session() as session:
            # Most faces have no person: up to a few times as many faces as asked about, the
            # faces with a person come from the person index alone. Looked up one by one, the
            # cohort's 5,000 faces at 10 million took 0.65 s off a cold disk.
            bound = 4 * len(wanted)
            assigned = select(FaceRow.id, FaceRow.person_id).where(FaceRow.person_id.is_not(None))
            rows = list(session.execute(assigned.limit(bound)))
            if len(rows) >= bound:  # more faces have a person: ask about these ones
                rows = []
                for chunk in _chunks(sorted(wanted)):
                    rows += session.execute(assigned.where(FaceRow.id.in_(chunk)))
            return {face: person for face, person in rows if face in wanted and person is not None}

    def rename_person(self, person_id: int, name: str) -> None:
        try:
            with self._session.begin() as session:
                person = self._check_person(session, person_id)
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
                self._check_person(session, person_id)
            # Neither person's rejections may be overridden: the merged person would then
            # hold a face a reviewer said is not them.
            faces_of = select(FaceRow.id).where(FaceRow.person_id.in_([into_id, other_id]))
            clash = self._standing(
                session,
                PersonRejectionRow.person_id.in_([into_id, other_id]),
                PersonRejectionRow.face_id.in_(faces_of),
            )
            if clash:
                raise MatchRejectedError(
                    f"face {_ids(r.face_id for r in clash)} of one person was marked not the "
                    "other; take the face from its person or withdraw the rejection before "
                    "merging"
                )
            session.execute(
                update(FaceRow).where(FaceRow.person_id == other_id).values(person_id=into_id)
            )
            # The merged person keeps both persons' rejections (and their history).
            session.execute(
                update(PersonRejectionRow)
                .where(PersonRejectionRow.person_id == other_id)
                .values(person_id=into_id)
            )
            session.execute(delete(PersonRow).where(PersonRow.id == other_id))

    def split_person(self, person_id: int, face_ids: Sequence[int], name: str) -> int:
        wanted = {int(f) for f in face_ids}
        try:
            with self._session.begin() as session:
                self._check_person(session, person_id)
                own = set(session.scalars(select(FaceRow.id).where(FaceRow.person_id == person_id)))
                if not wanted:
                    raise InvalidArgumentError("name at least one face to split off")
                if wanted - own:
                    raise InvalidArgumentError(
                        f"face {_ids(wanted - own)} is not person {person_id}'s; a split "
                        "moves only the person's own faces"
                    )
                if wanted == own:
                    raise InvalidArgumentError(
                        f"that is every face of person {person_id}; rename the person instead "
                        "of splitting them"
                    )
                new_id = self._new_person(session, name)  # a taken name fails here
                session.execute(
                    update(FaceRow).where(FaceRow.id.in_(sorted(wanted))).values(person_id=new_id)
                )
                return new_id
        except IntegrityError as exc:
            raise ConflictError(f"a person named {name!r} exists already") from exc

    def reject_face(self, person_id: int, face_id: int, actor: str) -> PersonRejection:
        with self._session.begin() as session:
            self._check_person(session, person_id)
            face = session.get(FaceRow, face_id)
            if face is None:
                raise NotFoundError(f"no face with id {face_id}")
            standing = self._standing(
                session,
                PersonRejectionRow.person_id == person_id,
                PersonRejectionRow.face_id == face_id,
            )
            if face.person_id == person_id:
                face.person_id = None
            if standing:
                return _rejection(standing[0])
            row = PersonRejectionRow(
                person_id=person_id,
                face_id=face_id,
                rejected_by=actor,
                rejected_at=datetime.now(UTC),
            )
            session.add(row)
            session.flush()
            return _rejection(row)

    def withdraw_rejection(self, person_id: int, face_id: int, actor: str) -> PersonRejection:
        with self._session.begin() as session:
            standing = self._standing(
                session,
                PersonRejectionRow.person_id == person_id,
                PersonRejectionRow.face_id == face_id,
            )
            if not standing:
                raise NotFoundError(
                    f"face {face_id} is not marked as not person {person_id}: nothing to withdraw"
                )
            now = datetime.now(UTC)
            for row in standing:
                row.withdrawn_by, row.withdrawn_at = actor, now
            session.flush()
            return _rejection(standing[0])

    def rejections(
        self, person_id: int | None = None, *, withdrawn: bool = False
    ) -> list[PersonRejection]:
        with self._session() as session:
            if person_id is not None:
                self._check_person(session, person_id)
            query = select(PersonRejectionRow).order_by(PersonRejectionRow.id)
            if person_id is not None:
                query = query.where(PersonRejectionRow.person_id == person_id)
            if not withdrawn:
                query = query.where(PersonRejectionRow.withdrawn_at.is_(None))
            return [_rejection(row) for row in session.scalars(query)]
