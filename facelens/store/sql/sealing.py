"""Identifying data sealed at rest. Names, landmarks and (where the collection asks)
locations are sealed with the template key, each bound to its row id; names and locations
also get a blind index (HMAC) so that uniqueness and equality lookups work without opening
anything. Key rotation re-seals them with the templates."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from facelens.security.crypto import TemplateCipher, normalise_name, row_aad
from facelens.security.keys import KEY_ID_META
from facelens.store.schema import (
    CollectionRow,
    FaceRow,
    ImageRow,
    PersonRow,
    StagedEmbeddingRow,
    SubjectRequestRow,
    SubjectRequestTemplateRow,
    SuppressionRow,
)
from facelens.store.sql.core import SqlCore
from facelens.store.sql.rows import IDENTIFYING_SEALED_META


class Sealing(SqlCore):
    """Sealing and opening names, landmarks and locations; re-sealing on key rotation."""

    def _name_index(self, name: str, cipher: TemplateCipher | None = None) -> str:
        return (cipher or self.cipher).blind_index("person-name", normalise_name(name))

    def _seal_name(self, row_id: int, name: str, cipher: TemplateCipher | None = None) -> bytes:
        return (cipher or self.cipher).seal_text(name, row_aad("person-name", row_id))

    def _name(self, row: PersonRow, cipher: TemplateCipher | None = None) -> str:
        if row.name_sealed is None:  # plain: from before 0007, sealed on the next open
            return row.name
        return (cipher or self.cipher).open_text(row.name_sealed, row_aad("person-name", row.id))

    def _location_index(self, location: str, cipher: TemplateCipher | None = None) -> str:
        return (cipher or self.cipher).blind_index("image-location", location)

    def _seal_location(
        self, row_id: int, location: str, cipher: TemplateCipher | None = None
    ) -> bytes:
        return (cipher or self.cipher).seal_text(location, row_aad("image-location", row_id))

    def _location(self, row: ImageRow, cipher: TemplateCipher | None = None) -> str:
        if row.location_sealed is None:
            return row.location
        aad = row_aad("image-location", row.id)
        return (cipher or self.cipher).open_text(row.location_sealed, aad)

    def _seal_landmarks(
        self, row_id: int, landmarks: Any, cipher: TemplateCipher | None = None
    ) -> bytes:
        points = np.asarray(landmarks, dtype=np.float64).round(2).tolist()
        text = json.dumps(points, separators=(",", ":"))
        return (cipher or self.cipher).seal_text(text, row_aad("face-landmarks", row_id))

    def _landmarks(self, row: FaceRow, cipher: TemplateCipher | None = None) -> list[list[float]]:
        if row.landmarks_sealed is None:
            return list(row.landmarks or [])
        aad = row_aad("face-landmarks", row.id)
        loaded: list[list[float]] = json.loads(
            (cipher or self.cipher).open_text(row.landmarks_sealed, aad)
        )
        return loaded

    def face_landmarks(self, face_ids: Sequence[int]) -> dict[int, list[list[float]]]:
        """The five landmarks of each face (opened)."""
        with self._session() as session:
            rows = session.scalars(select(FaceRow).where(FaceRow.id.in_(list(face_ids))))
            return {row.id: self._landmarks(row) for row in rows}

    def _seal_locations(self, session: Session, collection_id: int) -> int:
        """Seal the plain locations of a collection that seals them."""
        rows = session.scalars(
            select(ImageRow).where(
                ImageRow.collection_id == collection_id, ImageRow.location_sealed.is_(None)
            )
        ).all()
        for row in rows:
            row.location_index = self._location_index(row.location)
            row.location_sealed = self._seal_location(row.id, row.location)
            row.location = ""
        return len(rows)

    def seal_identifying_data(self) -> int:
        """Seal what is still plain (a database from before 0007, or a collection that began
        sealing its locations), in one transaction; returns how many values were sealed.

        The sweep reads every face and image (4.3 s of each open at 10 million faces), so
        once it has left nothing plain that is noted in the meta table and later calls return
        at once: everything since is sealed as it is written."""
        if self.get_meta(IDENTIFYING_SEALED_META) == "1":
            return 0
        sealed = 0
        with self._session.begin() as session:
            # Not "landmarks IS NOT NULL": a JSON column keeps None as the JSON text null.
            for face in session.scalars(select(FaceRow).where(FaceRow.landmarks_sealed.is_(None))):
                face.landmarks_sealed = self._seal_landmarks(face.id, face.landmarks or [])
                face.landmarks = None
                sealed += 1
            plain = select(PersonRow).where(PersonRow.name_sealed.is_(None))
            for person in session.scalars(plain).all():
                person.name_sealed = self._seal_name(person.id, person.name)
                person.name = self._name_index(person.name)
                sealed += 1
            for image in session.scalars(
                select(ImageRow).where(
                    ImageRow.location_index.is_(None), ImageRow.location_sealed.is_(None)
                )
            ):
                image.location_index = self._location_index(image.location)
            for collection_id in session.scalars(
                select(CollectionRow.id).where(CollectionRow.seal_locations.is_(True))
            ).all():
                sealed += self._seal_locations(session, collection_id)
        if sealed:
            self.checkpoint()  # no plain copy left in the write-ahead log
        self.set_meta(IDENTIFYING_SEALED_META, "1")  # after the commit: a crash sweeps again
        return sealed

    def _reseal_identifying_data(
        self, session: Session, old: TemplateCipher, new: TemplateCipher
    ) -> int:
        """Open every sealed name, landmark set and location with ``old`` and seal it (and
        recompute its blind index) with ``new``."""
        resealed = 0
        for face in session.scalars(select(FaceRow).where(FaceRow.landmarks_sealed.is_not(None))):
            face.landmarks_sealed = self._seal_landmarks(face.id, self._landmarks(face, old), new)
            resealed += 1
        for person in session.scalars(select(PersonRow).where(PersonRow.name_sealed.is_not(None))):
            name = self._name(person, old)
            person.name = self._name_index(name, new)
            person.name_sealed = self._seal_name(person.id, name, new)
            resealed += 1
        for image in session.scalars(select(ImageRow)):
            location = self._location(image, old)
            image.location_index = self._location_index(location, new)
            if image.location_sealed is not None:
                image.location_sealed = self._seal_location(image.id, location, new)
                resealed += 1
        return resealed

    def reseal_templates(self, old: TemplateCipher | None, new: TemplateCipher) -> int:
        """Seal every stored template with ``new`` (opened with ``old``; ``None``: they are
        plain, from before templates were sealed), in one transaction; returns how many."""
        sealed_columns = (
            (FaceRow, FaceRow.embedding),
            (SubjectRequestRow, SubjectRequestRow.template),
            (SubjectRequestTemplateRow, SubjectRequestTemplateRow.template),
            (SuppressionRow, SuppressionRow.template),
            (StagedEmbeddingRow, StagedEmbeddingRow.embedding),
        )
        resealed = 0
        with self._session.begin() as session:
            for row_type, column in sealed_columns:
                rows = session.execute(select(row_type.id, column).where(column.is_not(None)))
                for row_id, blob in rows.all():
                    assert blob is not None  # selected where not null
                    plain = old.open(blob) if old is not None else blob
                    session.execute(
                        update(row_type)
                        .where(row_type.id == row_id)
                        .values({column.key: new.seal(plain)})
                    )
                    resealed += 1
            if old is not None:  # names, landmarks, locations: the same key, the same step
                resealed += self._reseal_identifying_data(session, old, new)
            # The fingerprint changes with the templates, never apart from them.
            self._upsert_meta(session, KEY_ID_META, new.key_id)
        self.cipher = new
        return resealed
