"""Images and their faces: adding them, and reading them back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Column, Table, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facelens.errors import NotFoundError
from facelens.store.records import AddedImage, FaceRecord, ImageRecord, NewImage
from facelens.store.schema import Base, CollectionRow, FaceRow, ImageRow, PersonRow, utc_now
from facelens.store.sql.rows import ACCEPTED, REJECTED, _chunks, _ids, _provenance
from facelens.store.sql.sealing import Sealing
from facelens.types import (
    AnalysedFace,
    Box,
    FaceQuality,
    IdArray,
    ImageAnalysis,
    ModelId,
    Provenance,
)


class Faces(Sealing):
    """Images with provenance and their faces."""

    def known_image_hashes(self, collection: str) -> set[str]:
        with self._session() as session:
            return set(
                session.scalars(
                    select(ImageRow.sha256)
                    .join(CollectionRow)
                    .where(CollectionRow.name == collection)
                )
            )

    def known_origin_urls(self, collection: str) -> set[str]:
        with self._session() as session:
            return {
                url
                for url in session.scalars(
                    select(ImageRow.origin_url)
                    .join(CollectionRow)
                    .where(CollectionRow.name == collection, ImageRow.origin_url.is_not(None))
                )
                if url is not None
            }

    def add_image(
        self,
        *,
        collection: str,
        location: str,
        sha256: str,
        analysis: ImageAnalysis,
        provenance: Provenance,
    ) -> AddedImage | None:
        image = NewImage(location, sha256, analysis, provenance)
        try:
            with self._session.begin() as session:
                collection_id = self._collection_id(session, collection)
                [added] = self._add_all(session, collection_id, [image])
                return added
        except IntegrityError:
            # Model ids made in the rolled-back transaction are gone too: forget them.
            self._model_ids.clear()
            if self._stored_image_id(collection, sha256) is None:
                raise  # not the unique (collection, sha256): a real failure, not a duplicate
            # Another writer (thread or process) stored the same content here first.
            return None

    def add_images(self, collection: str, images: Sequence[NewImage]) -> list[AddedImage | None]:
        # One transaction for the lot (the bulk path: thousands of images a second); content
        # already stored, or twice in the lot, is skipped as add_image skips it.
        try:
            with self._session.begin() as session:
                collection_id = self._collection_id(session, collection)
                shas = list({image.sha256 for image in images})
                seen: set[str] = set()
                for start in range(0, len(shas), 500):
                    chunk = shas[start : start + 500]
                    seen |= set(
                        session.scalars(
                            select(ImageRow.sha256).where(
                                ImageRow.collection_id == collection_id, ImageRow.sha256.in_(chunk)
                            )
                        )
                    )
                fresh: list[int] = []  # positions in ``images`` of content new here
                for position, image in enumerate(images):
                    if image.sha256 not in seen:
                        seen.add(image.sha256)
                        fresh.append(position)
                stored = self._add_all(session, collection_id, [images[p] for p in fresh])
                out: list[AddedImage | None] = [None] * len(images)
                for position, added in zip(fresh, stored, strict=True):
                    out[position] = added
                return out
        except IntegrityError:
            # Another writer stored some of the same content meanwhile: one at a time, then.
            self._model_ids.clear()
            return [
                self.add_image(collection=collection, location=i.location, sha256=i.sha256,
                               analysis=i.analysis, provenance=i.provenance)
                for i in images
            ]  # fmt: skip

    def _add_all(
        self, session: Session, collection_id: int, images: Sequence[NewImage]
    ) -> list[AddedImage]:
        """The images and their faces added in ``session``: one executemany INSERT for the
        images and one for the faces, their new ids read back by key, then one executemany
        UPDATE for the values sealed bound to the ids. Core statements, not ORM objects (whose
        bookkeeping cost ten times the database's work), and no INSERT ... RETURNING (SQLite
        cannot return ids in parameter order, so SQLAlchemy would insert one row a statement)."""
        if not images:
            return []
        seal_location = bool(
            session.scalar(
                select(CollectionRow.seal_locations).where(CollectionRow.id == collection_id)
            )
        )
        model_ids = {
            f.embedding.model: self._model_id(session, f.embedding.model)
            for image in images
            for f in image.analysis.faces
            if f.embedding is not None
        }
        now = utc_now()
        images_table, faces_table = _table(ImageRow), _table(FaceRow)
        session.execute(
            insert(images_table),
            [self._image_values(collection_id, image, seal_location, now) for image in images],
        )
        id_of_sha: dict[str, int] = {}
        shas = [image.sha256 for image in images]
        for chunk in (shas[i : i + 500] for i in range(0, len(shas), 500)):
            id_of_sha.update(
                (sha, row_id)
                for row_id, sha in session.execute(
                    select(images_table.c.id, images_table.c.sha256).where(
                        images_table.c.collection_id == collection_id,
                        images_table.c.sha256.in_(chunk),
                    )
                )
            )
        image_ids = [id_of_sha[image.sha256] for image in images]
        face_values = [
            self._face_values(image_id, face, model_ids, now)
            for image_id, image in zip(image_ids, images, strict=True)
            for face in image.analysis.faces
        ]
        if face_values:
            session.execute(insert(faces_table), face_values)
        # An image's faces were inserted in order, and ids only grow: read back, put in id
        # order. Sorted here, not by ORDER BY: to skip the sort SQLite's planner would scan
        # the whole table in id order (seconds a batch at 4 million faces).
        ids_of_image: dict[int, list[int]] = {}
        with_faces = [i for i, image in zip(image_ids, images, strict=True) if image.analysis.faces]
        found = [
            (face_id, image_id)
            for id_chunk in _chunks(with_faces)
            for face_id, image_id in session.execute(
                select(faces_table.c.id, faces_table.c.image_id).where(
                    faces_table.c.image_id.in_(id_chunk)
                )
            )
        ]
        for face_id, image_id in sorted(found):
            ids_of_image.setdefault(image_id, []).append(face_id)
        face_ids = [face_id for image_id in image_ids for face_id in ids_of_image.get(image_id, [])]
        faces = [face for image in images for face in image.analysis.faces]
        _set_by_id(session, faces_table.c.landmarks_sealed, {
            face_id: self._seal_landmarks(face_id, face.landmarks)
            for face_id, face in zip(face_ids, faces, strict=True)
        })  # fmt: skip
        if seal_location:
            _set_by_id(session, images_table.c.location_sealed, {
                image_id: self._seal_location(image_id, image.location)
                for image_id, image in zip(image_ids, images, strict=True)
            })  # fmt: skip
        added, next_face = [], 0
        for image_id, image in zip(image_ids, images, strict=True):
            ids, vectors = [], []
            for face in image.analysis.faces:
                if face.embedding is not None:
                    ids.append(face_ids[next_face])
                    vectors.append(face.embedding.vector)
                next_face += 1
            dim = vectors[0].shape[0] if vectors else 0
            added.append(
                AddedImage(
                    image_id=image_id,
                    face_ids=np.array(ids, dtype=np.int64),
                    vectors=(
                        np.stack(vectors).astype(np.float32)
                        if vectors
                        else np.zeros((0, dim), dtype=np.float32)
                    ),
                )
            )
        return added

    def _image_values(
        self, collection_id: int, new: NewImage, seal_location: bool, now: datetime
    ) -> dict[str, Any]:
        """The ``images`` row of ``new`` (its sealed location comes once its id is known, so
        the plain path never reaches the database)."""
        provenance = new.provenance
        return {
            "collection_id": collection_id,
            "location": "" if seal_location else new.location,
            "location_index": self._location_index(new.location),
            "sha256": new.sha256,
            "width": new.analysis.width,
            "height": new.analysis.height,
            "origin_url": provenance.origin_url,
            "page_url": provenance.page_url,
            "captured_at": provenance.captured_at,
            "licence_ref": provenance.licence_ref,
            "fetched_at": provenance.fetched_at,
            "ingested_at": now,
        }

    def _face_values(
        self, image_id: int, face: AnalysedFace, model_ids: dict[ModelId, int], now: datetime
    ) -> dict[str, Any]:
        """The ``faces`` row of ``face`` (landmarks sealed once its id is known; the columns
        left out are NULL)."""
        embedding = face.embedding
        return {
            "image_id": image_id,
            "x1": face.box.x1,
            "y1": face.box.y1,
            "x2": face.box.x2,
            "y2": face.box.y2,
            "detector": face.detection.detector,
            "detector_score": face.detection.score,
            "size_px": face.quality.size_px,
            "sharpness": face.quality.sharpness,
            "status": ACCEPTED if embedding is not None else REJECTED,
            "rejection_reason": face.quality.rejection_reason,
            "model_id": model_ids[embedding.model] if embedding is not None else None,
            "embedding": self.cipher.seal_vector(embedding.vector) if embedding else None,
            "created_at": now,
        }

    def _stored_image_id(self, collection: str, sha256: str) -> int | None:
        """The id of the image of ``sha256`` in ``collection``, if stored."""
        with self._session() as session:
            return session.scalar(
                select(ImageRow.id)
                .join(CollectionRow, ImageRow.collection_id == CollectionRow.id)
                .where(CollectionRow.name == collection, ImageRow.sha256 == sha256)
            )

    def image_face_ids(self, collection: str, sha256: str) -> IdArray:
        with self._session() as session:
            ids = session.scalars(
                select(FaceRow.id)
                .join(ImageRow, FaceRow.image_id == ImageRow.id)
                .join(CollectionRow, ImageRow.collection_id == CollectionRow.id)
                .where(
                    CollectionRow.name == collection,
                    ImageRow.sha256 == sha256,
                    FaceRow.status == ACCEPTED,
                )
                .order_by(FaceRow.id)
            ).all()
        return np.asarray(ids, dtype=np.int64)

    def face_records(self, face_ids: Sequence[int]) -> dict[int, FaceRecord]:
        out: dict[int, FaceRecord] = {}
        with self._session() as session:
            for chunk in _chunks(face_ids):
                rows = session.execute(
                    select(FaceRow, ImageRow, CollectionRow.name, PersonRow)
                    .join(ImageRow, FaceRow.image_id == ImageRow.id)
                    .join(CollectionRow, ImageRow.collection_id == CollectionRow.id)
                    .outerjoin(PersonRow, FaceRow.person_id == PersonRow.id)
                    .where(FaceRow.id.in_(chunk))
                )
                for face, image, collection, person in rows:
                    out[face.id] = FaceRecord(
                        face_id=face.id,
                        box=Box(face.x1, face.y1, face.x2, face.y2),
                        image_id=image.id,
                        image_location=self._location(image),
                        collection=collection,
                        person_id=face.person_id,
                        person_name=self._name(person) if person is not None else None,
                        provenance=_provenance(image),
                    )
        return out

    def face_owners(self, face_ids: Sequence[int]) -> dict[int, tuple[int, int | None]]:
        out: dict[int, tuple[int, int | None]] = {}
        with self._session() as session:
            for chunk in _chunks(face_ids):
                rows = session.execute(
                    select(FaceRow.id, FaceRow.image_id, FaceRow.person_id).where(
                        FaceRow.id.in_(chunk)
                    )
                )
                for face_id, image_id, person_id in rows:
                    out[face_id] = (image_id, person_id)
        return out

    def face_qualities(self, face_ids: Sequence[int]) -> dict[int, FaceQuality]:
        out: dict[int, FaceQuality] = {}
        with self._session() as session:
            for chunk in _chunks(face_ids):
                rows = session.execute(
                    select(
                        FaceRow.id, FaceRow.size_px, FaceRow.sharpness, FaceRow.rejection_reason
                    ).where(FaceRow.id.in_(chunk))
                )
                for face_id, size_px, sharpness, reason in rows:
                    out[face_id] = FaceQuality(size_px, sharpness, reason)
        return out

    def images(
        self, collection: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[ImageRecord]:
        with self._session() as session:
            query = select(ImageRow.id).order_by(ImageRow.id).offset(offset).limit(limit)
            if collection is not None:
                query = query.where(
                    ImageRow.collection_id == self._collection_id(session, collection)
                )
            ids = list(session.scalars(query))
        return [self.image_record(i) for i in ids]

    def image_record(self, image_id: int) -> ImageRecord:
        with self._session() as session:
            found = session.execute(
                select(ImageRow, CollectionRow.name)
                .join(CollectionRow, ImageRow.collection_id == CollectionRow.id)
                .where(ImageRow.id == image_id)
            ).first()
            if found is None:
                raise NotFoundError(f"no image with id {image_id}")
            image, collection = found
            return ImageRecord(
                image_id=image.id,
                collection=collection,
                location=self._location(image),
                sha256=image.sha256,
                width=image.width,
                height=image.height,
                provenance=_provenance(image),
                ingested_at=image.ingested_at,
                face_ids=self._accepted_ids_where(session, FaceRow.image_id == image.id),
            )

    def accepted_face_ids(
        self, *, image_id: int | None = None, person_id: int | None = None
    ) -> list[int]:
        criteria = []
        if image_id is not None:
            criteria.append(FaceRow.image_id == image_id)
        if person_id is not None:
            criteria.append(FaceRow.person_id == person_id)
        with self._session() as session:
            return self._accepted_ids_where(session, *criteria)

    def face_ids_in_collections(self, names: Sequence[str], model: ModelId) -> IdArray:
        with self._session() as session:
            for name in names:
                self._collection_id(session, name)  # unknown names are an error, not "no hits"
            model_id = self._known_model_id(session, model)
            if model_id is None:
                return np.zeros(0, dtype=np.int64)
            ids = session.scalars(
                select(FaceRow.id)
                .join(ImageRow, FaceRow.image_id == ImageRow.id)
                .join(CollectionRow, ImageRow.collection_id == CollectionRow.id)
                .where(
                    CollectionRow.name.in_(list(names)),
                    FaceRow.model_id == model_id,
                    FaceRow.status == ACCEPTED,
                )
            ).all()
        return _ids(ids)

    def location_in_use(self, location: str) -> bool:
        with self._session() as session:
            # Plain rows by value, sealed ones by their blind index (one or the other is set).
            index = self._location_index(location)
            found = select(func.count()).where(
                (ImageRow.location == location) | (ImageRow.location_index == index)
            )
            return session.scalar(found) != 0


def _table(row: type[Base]) -> Table:
    """The Core table of a mapped class (typed: ``__table__`` is only a ``FromClause``)."""
    table = row.__table__
    assert isinstance(table, Table)
    return table


def _set_by_id(session: Session, column: Column[bytes | None], values: dict[int, bytes]) -> None:
    """Set ``column`` of each row id to its value: one executemany UPDATE (values sealed
    bound to row ids can only be written once the rows exist)."""
    if values:
        table = column.table
        session.execute(
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({column: bindparam("value")}),
            [{"row_id": row_id, "value": value} for row_id, value in values.items()],
        )
