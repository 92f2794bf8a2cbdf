"""Deleting images, faces, persons and collections; each says what it removed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from facelens.errors import NotFoundError
from facelens.store.records import ErasedFaces
from facelens.store.schema import CollectionRow, FaceRow, ImageRow, PersonRow
from facelens.store.sql.clusters import drop_empty_clusters
from facelens.store.sql.rows import ACCEPTED, _chunks, _erased
from facelens.store.sql.sealing import Sealing


class Deletion(Sealing):
    """Deletions: the indexed face ids and the images each one removed."""

    def _image_locations(self, session: Session, *criteria: Any) -> list[tuple[int, str]]:
        """(id, location) of the images matching ``criteria``, sealed locations opened."""
        images = session.scalars(select(ImageRow).where(*criteria))
        return [(image.id, self._location(image)) for image in images]

    def delete_images(self, image_ids: Sequence[int]) -> ErasedFaces:
        with self._session.begin() as session:
            found = set(session.scalars(select(ImageRow.id).where(ImageRow.id.in_(image_ids))))
            missing = sorted(set(image_ids) - found)
            if missing:
                raise NotFoundError(f"no image with id {', '.join(map(str, missing))}")
            removed = self._accepted_ids_where(session, FaceRow.image_id.in_(image_ids))
            gone = self._image_locations(session, ImageRow.id.in_(image_ids))
            session.execute(delete(FaceRow).where(FaceRow.image_id.in_(image_ids)))
            session.execute(delete(ImageRow).where(ImageRow.id.in_(image_ids)))
            drop_empty_clusters(session)
        return _erased(removed, gone)

    def delete_faces(self, face_ids: Sequence[int]) -> ErasedFaces:
        with self._session.begin() as session:
            rows = session.execute(
                select(FaceRow.id, FaceRow.image_id, FaceRow.status).where(FaceRow.id.in_(face_ids))
            ).all()
            missing = sorted(set(face_ids) - {r[0] for r in rows})
            if missing:
                raise NotFoundError(f"no face with id {', '.join(map(str, missing))}")
            gone = self._delete_faces_and_empty_images(session, [r[0] for r in rows])
        return _erased([r[0] for r in rows if r[2] == ACCEPTED], gone)

    def _delete_faces_and_empty_images(
        self, session: Session, face_ids: list[int]
    ) -> list[tuple[int, str]]:
        """Delete faces (their cluster memberships go with them, and a cluster left empty).
        An image left with no face goes too, and so does one that lost its last accepted
        face, with the detections the quality gate rejected: those are nobody's searchable
        face, and the photo shows the person whose face went, so an erasure must not leave it
        behind. Returns the (id, location) of the images deleted."""
        image_ids: set[int] = set()
        lost_accepted: set[int] = set()
        for chunk in _chunks(face_ids):
            query = select(FaceRow.image_id, FaceRow.status).where(FaceRow.id.in_(chunk))
            for image_id, status in session.execute(query):
                image_ids.add(image_id)
                if status == ACCEPTED:
                    lost_accepted.add(image_id)
            session.execute(delete(FaceRow).where(FaceRow.id.in_(chunk)))
        drop_empty_clusters(session)
        left = session.execute(
            select(FaceRow.image_id, FaceRow.status).where(FaceRow.image_id.in_(image_ids))
        ).all()
        with_faces = {image_id for image_id, _ in left}
        with_accepted = {image_id for image_id, status in left if status == ACCEPTED}
        empty = sorted((image_ids - with_faces) | (lost_accepted - with_accepted))
        if not empty:
            return []
        gone = self._image_locations(session, ImageRow.id.in_(empty))
        session.execute(delete(FaceRow).where(FaceRow.image_id.in_(empty)))
        session.execute(delete(ImageRow).where(ImageRow.id.in_(empty)))
        return gone

    def delete_person(self, person_id: int) -> ErasedFaces:
        with self._session.begin() as session:
            if session.get(PersonRow, person_id) is None:
                raise NotFoundError(f"no person with id {person_id}")
            face_ids = list(
                session.scalars(select(FaceRow.id).where(FaceRow.person_id == person_id))
            )
            removed = self._accepted_ids_where(session, FaceRow.person_id == person_id)
            gone = self._delete_faces_and_empty_images(session, face_ids)
            session.execute(delete(PersonRow).where(PersonRow.id == person_id))
        return _erased(removed, gone)

    def delete_collection(self, name: str) -> ErasedFaces:
        with self._session.begin() as session:
            collection_id = self._collection_id(session, name)
            image_ids = select(ImageRow.id).where(ImageRow.collection_id == collection_id)
            removed = self._accepted_ids_where(session, FaceRow.image_id.in_(image_ids))
            gone = self._image_locations(session, ImageRow.collection_id == collection_id)
            session.execute(delete(FaceRow).where(FaceRow.image_id.in_(image_ids)))
            session.execute(delete(ImageRow).where(ImageRow.collection_id == collection_id))
            session.execute(delete(CollectionRow).where(CollectionRow.id == collection_id))
        return _erased(removed, gone)
