"""SQLAlchemy implementation of the metadata store (SQLite here; any SQLAlchemy URL in time)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, delete, event, func, select, update
from sqlalchemy.exc import DatabaseError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from facelens.config import Settings
from facelens.errors import (
    ConflictError,
    DecryptionError,
    InvalidArgumentError,
    NotFoundError,
    StoreDamagedError,
    StoreMissingError,
)
from facelens.privacy.audit import (
    AUDIT_CHAIN_META,
    GENESIS_HASH,
    AuditEntry,
    AuditKey,
    ChainMarker,
    entry_hash,
)
from facelens.privacy.policy import CollectionPolicy, LegalBasis, check_consent_dates
from facelens.security.crypto import TemplateCipher, normalise_name, row_aad
from facelens.security.keys import KEY_ID_META, keys_of_data_folder
from facelens.store.base import (
    AddedImage,
    ErasedFaces,
    FaceRecord,
    ImageRecord,
    MigrationGuard,
    StoreCounts,
    register_store,
)
from facelens.store.schema import (
    AccountRow,
    AuditRow,
    CollectionRow,
    ConsentRow,
    FaceRow,
    ImageRow,
    MetaRow,
    ModelRow,
    PersonRow,
    SearchLogRow,
    SubjectRequestCandidateRow,
    SubjectRequestRow,
    SubjectRequestTemplateRow,
    SuppressionRow,
    utc_now,
)
from facelens.types import (
    Account,
    Box,
    Consent,
    FloatArray,
    IdArray,
    ImageAnalysis,
    ModelId,
    Person,
    Provenance,
    SearchRecord,
    SubjectRequest,
)

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
STORE_FILE = "facelens.db"
#: Face ids (a JSON list) whose stored template was found not to open: kept out of the index
#: and search, listed by stats and doctor, deletable. Computed where templates are opened, so
#: the schema needs no column for it.
QUARANTINE_META = "quarantined_faces"
ACCEPTED = "accepted"
REJECTED = "rejected"
# SQLite's default limit on bound parameters is 32766; stay well below it per IN (...) clause.
_CHUNK = 5_000


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def schema_pending(engine: Engine) -> bool:
    """Whether the schema is behind the newest revision (a new database is too)."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() != head


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")  # needed for ON DELETE CASCADE
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the ingest writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted rows are overwritten with zeros, not left in free pages: erasure means gone.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _ids(values: Sequence[int] | IdArray) -> IdArray:
    return np.asarray(sorted(int(v) for v in values), dtype=np.int64)


def _chunks(values: Sequence[int]) -> Iterator[list[int]]:
    items = [int(v) for v in values]
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class SqlStore:
    """The store on an SQLAlchemy engine; the schema is migrated with Alembic when opened."""

    def __init__(
        self,
        url: str,
        cipher: TemplateCipher,
        backend: str = "sqlite",
        *,
        guard: MigrationGuard | None = None,
    ) -> None:
        self.backend = backend
        self.cipher = cipher
        self._engine = create_engine(url)
        if url.startswith("sqlite"):
            event.listen(self._engine, "connect", _sqlite_pragmas)
        try:
            if schema_pending(self._engine):
                if guard is None:
                    migrate(self._engine)
                else:
                    with guard():
                        migrate(self._engine)
        except DatabaseError as exc:
            self._engine.dispose()
            raise _damaged(url, exc) from exc
        self._session = sessionmaker(self._engine, expire_on_commit=False)
        self._model_ids: dict[ModelId, int] = {}
        self._audit_lock = threading.Lock()
        self.audit_key: AuditKey | None = None

    def close(self) -> None:
        self._engine.dispose()

    # --- collections --------------------------------------------------------------------

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

    def _collection_id(self, session: Session, name: str) -> int:
        found = session.scalar(select(CollectionRow.id).where(CollectionRow.name == name))
        if found is None:
            raise NotFoundError(f"no collection named {name!r}")
        return found

    # --- identifying data sealed at rest ------------------------------------------------
    # Names, landmarks and (where the collection asks) locations are sealed with the template
    # key, each bound to its row id; names and locations also get a blind index (HMAC) so that
    # uniqueness and equality lookups work without opening anything.

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
        sealing its locations), in one transaction; returns how many values were sealed."""
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

    # --- images and faces ---------------------------------------------------------------

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

    def _model_id(self, session: Session, model: ModelId) -> int:
        """The row id of ``model``, created on first use."""
        if model not in self._model_ids:
            found = self._known_model_id(session, model)
            if found is None:
                row = ModelRow(name=model.name, version=model.version, dim=model.dim)
                session.add(row)
                session.flush()
                found = row.id
            self._model_ids[model] = found
        return self._model_ids[model]

    def _known_model_id(self, session: Session, model: ModelId) -> int | None:
        if model in self._model_ids:
            return self._model_ids[model]
        return session.scalar(
            select(ModelRow.id).where(
                ModelRow.name == model.name,
                ModelRow.version == model.version,
                ModelRow.dim == model.dim,
            )
        )

    def add_image(
        self,
        *,
        collection: str,
        location: str,
        sha256: str,
        analysis: ImageAnalysis,
        provenance: Provenance,
    ) -> AddedImage | None:
        try:
            with self._session.begin() as session:
                collection_id = self._collection_id(session, collection)
                model_ids = {
                    f.embedding.model: self._model_id(session, f.embedding.model)
                    for f in analysis.faces
                    if f.embedding is not None
                }
                seal_location = bool(
                    session.scalar(
                        select(CollectionRow.seal_locations).where(
                            CollectionRow.id == collection_id
                        )
                    )
                )
                image = ImageRow(
                    collection_id=collection_id,
                    # Sealed locations are written once the row has its id (bound to it), so
                    # the plain path never reaches the database.
                    location="" if seal_location else location,
                    location_index=self._location_index(location),
                    sha256=sha256,
                    width=analysis.width,
                    height=analysis.height,
                    origin_url=provenance.origin_url,
                    page_url=provenance.page_url,
                    captured_at=provenance.captured_at,
                    licence_ref=provenance.licence_ref,
                    fetched_at=provenance.fetched_at,
                )
                session.add(image)
                accepted: list[tuple[FaceRow, FloatArray]] = []
                rows: list[tuple[FaceRow, np.ndarray]] = []
                for face in analysis.faces:
                    row = FaceRow(
                        image=image,
                        x1=face.box.x1,
                        y1=face.box.y1,
                        x2=face.box.x2,
                        y2=face.box.y2,
                        landmarks=None,  # sealed below, bound to the row id
                        detector=face.detection.detector,
                        detector_score=face.detection.score,
                        size_px=face.quality.size_px,
                        sharpness=face.quality.sharpness,
                        status=ACCEPTED if face.embedding is not None else REJECTED,
                        rejection_reason=face.quality.rejection_reason,
                    )
                    if face.embedding is not None:
                        row.model_id = model_ids[face.embedding.model]
                        row.embedding = self.cipher.seal_vector(face.embedding.vector)
                        accepted.append((row, face.embedding.vector))
                    session.add(row)
                    rows.append((row, face.landmarks))
                session.flush()
                if seal_location:
                    image.location_sealed = self._seal_location(image.id, location)
                for row, landmarks in rows:
                    row.landmarks_sealed = self._seal_landmarks(row.id, landmarks)
                dim = accepted[0][1].shape[0] if accepted else 0
                return AddedImage(
                    image_id=image.id,
                    face_ids=np.array([r.id for r, _ in accepted], dtype=np.int64),
                    vectors=(
                        np.stack([v for _, v in accepted]).astype(np.float32)
                        if accepted
                        else np.zeros((0, dim), dtype=np.float32)
                    ),
                )
        except IntegrityError:
            # Another writer stored the same content in this collection first. Model ids made
            # in the rolled-back transaction are gone too, so forget them.
            self._model_ids.clear()
            return None

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

    # --- templates that do not open ---------------------------------------------------------

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

    def integrity_problems(self) -> list[str]:
        if self.backend != "sqlite":
            return []
        try:
            with self._engine.connect() as connection:
                rows = connection.exec_driver_sql("PRAGMA integrity_check").all()
        except DatabaseError as exc:
            return [str(exc.orig or exc)]
        found = [str(r[0]) for r in rows]
        return [] if found == ["ok"] else found

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

    def reseal_templates(self, old: TemplateCipher | None, new: TemplateCipher) -> int:
        """Seal every stored template with ``new`` (opened with ``old``; ``None``: they are
        plain, from before templates were sealed), in one transaction; returns how many."""
        sealed_columns = (
            (FaceRow, FaceRow.embedding),
            (SubjectRequestRow, SubjectRequestRow.template),
            (SubjectRequestTemplateRow, SubjectRequestTemplateRow.template),
            (SuppressionRow, SuppressionRow.template),
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
            session.merge(MetaRow(key=KEY_ID_META, value=new.key_id))
        self.cipher = new
        return resealed

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

    # --- deletion -----------------------------------------------------------------------

    def _accepted_ids_where(self, session: Session, *criteria: Any) -> list[int]:
        return list(
            session.scalars(
                select(FaceRow.id).where(FaceRow.status == ACCEPTED, *criteria).order_by(FaceRow.id)
            ).all()
        )

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
        """Delete faces; an image left with no face at all goes too (nothing else needs it).
        Returns the (id, location) of the images deleted."""
        image_ids: set[int] = set()
        for chunk in _chunks(face_ids):
            image_ids |= set(session.scalars(select(FaceRow.image_id).where(FaceRow.id.in_(chunk))))
            session.execute(delete(FaceRow).where(FaceRow.id.in_(chunk)))
        still_used = set(
            session.scalars(select(FaceRow.image_id).where(FaceRow.image_id.in_(image_ids)))
        )
        empty = sorted(image_ids - still_used)
        if not empty:
            return []
        gone = self._image_locations(session, ImageRow.id.in_(empty))
        session.execute(delete(ImageRow).where(ImageRow.id.in_(empty)))
        return gone

    def erase_faces(
        self,
        face_ids: Sequence[int],
        *,
        suppress: FloatArray | None = None,
        request_id: int | None = None,
        request_outcome: dict[str, Any] | None = None,
    ) -> ErasedFaces:
        """Delete faces (and images left with none) and, in the same transaction, add a
        template to the suppression list and complete a subject request: all or nothing."""
        with self._session.begin() as session:
            rows = session.execute(
                select(FaceRow.id, FaceRow.status).where(FaceRow.id.in_(list(face_ids)))
            ).all()
            gone = self._delete_faces_and_empty_images(session, [r[0] for r in rows])
            for template in [] if suppress is None else np.atleast_2d(suppress):
                session.add(
                    SuppressionRow(
                        request_id=request_id, template=self.cipher.seal_vector(template)
                    )
                )
            if request_id is not None:
                values = dict(request_outcome or {})
                values.update(faces_erased=len(rows), images_erased=len(gone))
                self._complete_request(session, request_id, values)
        return _erased([r[0] for r in rows if r[1] == ACCEPTED], gone)

    def location_in_use(self, location: str) -> bool:
        with self._session() as session:
            # Plain rows by value, sealed ones by their blind index (one or the other is set).
            index = self._location_index(location)
            found = select(func.count()).where(
                (ImageRow.location == location) | (ImageRow.location_index == index)
            )
            return session.scalar(found) != 0

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the database and empty it, so that erased rows do
        not linger in the log file."""
        if self.backend == "sqlite":
            with self._engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

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

    def consent_face_ids(self, consent_id: int) -> list[int]:
        with self._session() as session:
            return list(session.scalars(select(FaceRow.id).where(FaceRow.consent_id == consent_id)))

    # --- persons ------------------------------------------------------------------------

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

    # --- accounts and the search log ----------------------------------------------------

    def create_account(
        self, name: str, role: str, key_hash: str, jurisdiction: str | None = None
    ) -> Account:
        try:
            with self._session.begin() as session:
                row = AccountRow(name=name, role=role, key_hash=key_hash, jurisdiction=jurisdiction)
                session.add(row)
                session.flush()
                return _account(row)
        except IntegrityError as exc:
            raise ConflictError(f"an account named {name!r} exists already") from exc

    def account_with_key_hash(self, account_id: int) -> tuple[Account, str] | None:
        with self._session() as session:
            row = session.get(AccountRow, account_id)
            return (_account(row), row.key_hash) if row is not None else None

    def accounts(self) -> list[Account]:
        with self._session() as session:
            return [
                _account(r) for r in session.scalars(select(AccountRow).order_by(AccountRow.id))
            ]

    def log_search(self, record: SearchRecord) -> int:
        with self._session.begin() as session:
            row = SearchLogRow(
                account_id=record.account_id,
                searched_at=record.searched_at,
                purpose=record.purpose,
                case_ref=record.case_ref,
                collections=list(record.collections),
                probe_faces=record.probe_faces,
                results=record.results,
                matches=record.matches,
                threshold=record.threshold,
                probe_sha256=list(record.probe_sha256),
                result_face_ids=list(record.result_face_ids),
            )
            session.add(row)
            session.flush()
            return row.id

    def search_log(self, account_id: int | None = None, limit: int = 100) -> list[SearchRecord]:
        query = (
            select(SearchLogRow, AccountRow.name)
            .join(AccountRow, AccountRow.id == SearchLogRow.account_id)
            .order_by(SearchLogRow.id.desc())
            .limit(limit)
        )
        if account_id is not None:
            query = query.where(SearchLogRow.account_id == account_id)
        with self._session() as session:
            return [
                SearchRecord(
                    id=row.id,
                    account_id=row.account_id,
                    account_name=name,
                    purpose=row.purpose,
                    case_ref=row.case_ref,
                    collections=list(row.collections),
                    probe_faces=row.probe_faces,
                    results=row.results,
                    matches=row.matches,
                    threshold=row.threshold,
                    searched_at=row.searched_at,
                    probe_sha256=list(row.probe_sha256),
                    result_face_ids=list(row.result_face_ids),
                )
                for row, name in session.execute(query).all()
            ]

    # --- the audit log ------------------------------------------------------------------

    def append_audit(
        self, actor: str, action: str, subject: str, details: dict[str, Any]
    ) -> AuditEntry:
        with self._audit_lock, self._session.begin() as session:
            last = session.execute(
                select(AuditRow.id, AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)
            ).first()
            entry_id, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
            at = datetime.now(UTC)  # stored as naive UTC, and hashed so (audit._entry_body)
            if self.audit_key is not None:
                digest = self.audit_key.entry_mac(
                    entry_id, at, actor, action, subject, details, prev_hash
                )
            elif session.get(MetaRow, AUDIT_CHAIN_META) is not None:
                # A plain entry would break a keyed chain for good: refuse instead.
                raise ConflictError(
                    "this audit log is keyed: append to it through an engine, which holds the "
                    "data folder's audit key"
                )
            else:
                digest = entry_hash(entry_id, at, actor, action, subject, details, prev_hash)
            session.add(
                AuditRow(
                    id=entry_id, at=at, actor=actor, action=action, subject=subject,
                    details=details, prev_hash=prev_hash, hash=digest,
                )
            )  # fmt: skip
        return AuditEntry(entry_id, at, actor, action, subject, details, prev_hash, digest)

    def audit_entries(self, after_id: int = 0, limit: int | None = None) -> list[AuditEntry]:
        query = select(AuditRow).where(AuditRow.id > after_id).order_by(AuditRow.id).limit(limit)
        with self._session() as session:
            return [
                AuditEntry(
                    r.id, r.at, r.actor, r.action, r.subject, dict(r.details), r.prev_hash, r.hash
                )
                for r in session.scalars(query)
            ]

    def key_audit_chain(self, folder_id: str, key: AuditKey) -> None:
        with self._audit_lock, self._session.begin() as session:
            if session.get(MetaRow, AUDIT_CHAIN_META) is None:
                last = session.execute(
                    select(AuditRow.id, AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)
                ).first()
                last_id, head = (last[0], last[1]) if last else (0, GENESIS_HASH)
                marker = ChainMarker.make(key, folder_id, last_id + 1, head)
                session.add(MetaRow(key=AUDIT_CHAIN_META, value=marker.to_json()))
        self.audit_key = key

    # --- consent registry ---------------------------------------------------------------

    def add_consent(
        self,
        *,
        subject_ref: str,
        purpose: str,
        scope: Sequence[str],
        given_at: datetime,
        expires_at: datetime | None,
        evidence_ref: str,
    ) -> Consent:
        check_consent_dates(given_at, expires_at)  # here, so the CLI and the API both refuse
        with self._session.begin() as session:
            for name in scope:
                self._collection_id(session, name)
            row = ConsentRow(
                subject_ref=subject_ref, purpose=purpose, scope=list(scope), given_at=given_at,
                expires_at=expires_at, evidence_ref=evidence_ref, last_interaction_at=given_at,
            )  # fmt: skip
            session.add(row)
            session.flush()
            return _consent(row)

    def consent(self, consent_id: int) -> Consent:
        with self._session() as session:
            row = session.get(ConsentRow, consent_id)
            if row is None:
                raise NotFoundError(f"no consent record with id {consent_id}")
            return _consent(row)

    def consents(self) -> list[Consent]:
        with self._session() as session:
            return [
                _consent(r) for r in session.scalars(select(ConsentRow).order_by(ConsentRow.id))
            ]

    def update_consent(
        self,
        consent_id: int,
        *,
        person_id: int | None = None,
        last_interaction_at: datetime | None = None,
        withdrawn_at: datetime | None = None,
    ) -> None:
        values: dict[str, Any] = {}
        if person_id is not None:
            values["person_id"] = person_id
        if last_interaction_at is not None:
            values["last_interaction_at"] = last_interaction_at
        if withdrawn_at is not None:
            values["withdrawn_at"] = withdrawn_at
        with self._session.begin() as session:
            session.execute(update(ConsentRow).where(ConsentRow.id == consent_id).values(**values))

    def set_face_consent(self, face_ids: Sequence[int], consent_id: int) -> None:
        with self._session.begin() as session:
            session.execute(
                update(FaceRow).where(FaceRow.id.in_(list(face_ids))).values(consent_id=consent_id)
            )

    # --- subject requests and the suppression list ----------------------------------------

    def add_subject_request(
        self,
        *,
        kind: str,
        request_ref: str,
        created_by: str,
        status: str,
        faces_found: int,
        templates: FloatArray | None = None,
        candidates: Sequence[tuple[int, float]] = (),
        threshold: float | None = None,
        expected_false_candidates: float | None = None,
        gallery_faces: int = 0,
    ) -> SubjectRequest:
        with self._session.begin() as session:
            row = SubjectRequestRow(
                kind=kind, request_ref=request_ref, created_by=created_by, status=status,
                faces_found=faces_found, faces_erased=0, images_erased=0,
                completed_at=None if status == "pending" else utc_now(), template=None,
                photos=0 if templates is None else len(templates), threshold=threshold,
                expected_false_candidates=expected_false_candidates,
                gallery_faces=gallery_faces, faces_confirmed=0,
            )  # fmt: skip
            session.add(row)
            session.flush()
            for template in [] if templates is None else templates:
                session.add(
                    SubjectRequestTemplateRow(
                        request_id=row.id, template=self.cipher.seal_vector(template)
                    )
                )
            self._add_candidates(session, row.id, candidates)
            return _subject_request(row)

    @staticmethod
    def _add_candidates(
        session: Session, request_id: int, candidates: Sequence[tuple[int, float]]
    ) -> None:
        for face_id, similarity in candidates:
            session.add(
                SubjectRequestCandidateRow(
                    request_id=request_id, face_id=int(face_id), similarity=float(similarity),
                    decision="pending",
                )
            )  # fmt: skip

    def add_subject_request_candidates(
        self, request_id: int, candidates: Sequence[tuple[int, float]]
    ) -> None:
        with self._session.begin() as session:
            self._add_candidates(session, request_id, candidates)
            row = session.get(SubjectRequestRow, request_id)
            assert row is not None
            row.faces_found += len(candidates)

    def subject_request_candidates(self, request_id: int) -> list[tuple[int, float, str]]:
        """(face id, similarity, decision) of every candidate, best first."""
        query = (
            select(
                SubjectRequestCandidateRow.face_id,
                SubjectRequestCandidateRow.similarity,
                SubjectRequestCandidateRow.decision,
            )
            .where(SubjectRequestCandidateRow.request_id == request_id)
            .order_by(SubjectRequestCandidateRow.similarity.desc())
        )
        with self._session() as session:
            return [(int(f), float(s), str(d)) for f, s, d in session.execute(query)]

    def decide_subject_request(
        self,
        request_id: int,
        decisions: dict[int, str],
        decided_by: str,
        outcome: dict[str, Any] | None,
    ) -> None:
        """Record the admin's decision on each candidate; with ``outcome``, also complete the
        request and drop the requester's templates (an erasure completes in ``erase_faces``)."""
        now = utc_now()
        with self._session.begin() as session:
            for face_id, decision in decisions.items():
                session.execute(
                    update(SubjectRequestCandidateRow)
                    .where(
                        SubjectRequestCandidateRow.request_id == request_id,
                        SubjectRequestCandidateRow.face_id == face_id,
                    )
                    .values(decision=decision, decided_by=decided_by, decided_at=now)
                )
            if outcome is not None:
                self._complete_request(session, request_id, outcome)

    @staticmethod
    def _complete_request(session: Session, request_id: int, outcome: dict[str, Any]) -> None:
        session.execute(
            update(SubjectRequestRow)
            .where(SubjectRequestRow.id == request_id)
            .values(template=None, **outcome)
        )
        session.execute(
            delete(SubjectRequestTemplateRow).where(
                SubjectRequestTemplateRow.request_id == request_id
            )
        )

    def subject_request(self, request_id: int) -> tuple[SubjectRequest, FloatArray | None]:
        """The request and, while it is pending, the requester's templates (k, dim)."""
        with self._session() as session:
            row = session.get(SubjectRequestRow, request_id)
            if row is None:
                raise NotFoundError(f"no subject request with id {request_id}")
            blobs = list(
                session.scalars(
                    select(SubjectRequestTemplateRow.template)
                    .where(SubjectRequestTemplateRow.request_id == request_id)
                    .order_by(SubjectRequestTemplateRow.id)
                )
            )
            if row.template is not None:  # a pending erasure from before 0006
                blobs.append(row.template)
            templates = np.stack([self.cipher.open_vector(b) for b in blobs]) if blobs else None
            return _subject_request(row), templates

    def subject_requests(self, since: datetime | None = None) -> list[SubjectRequest]:
        query = select(SubjectRequestRow).order_by(SubjectRequestRow.id)
        if since is not None:
            query = query.where(SubjectRequestRow.created_at >= since)
        with self._session() as session:
            return [_subject_request(r) for r in session.scalars(query)]

    def suppression_templates(self) -> list[FloatArray]:
        """Each opted-out person's templates, (k, dim) float32 each: the photos of one
        erasure request together (opened; keep them in memory only)."""
        with self._session() as session:
            rows = session.execute(
                select(SuppressionRow.id, SuppressionRow.request_id, SuppressionRow.template)
            ).all()
        people: dict[tuple[str, int], list[FloatArray]] = {}
        for row_id, request_id, blob in sorted(rows):
            person = ("request", request_id) if request_id is not None else ("row", row_id)
            people.setdefault(person, []).append(self.cipher.open_vector(blob))
        return [np.stack(templates) for templates in people.values()]

    def suppression_count(self) -> int:
        with self._session() as session:
            return session.scalar(select(func.count()).select_from(SuppressionRow)) or 0

    # --- retention ------------------------------------------------------------------------

    def images_ingested_before(self, collection: str, cutoff: datetime) -> list[int]:
        with self._session() as session:
            collection_id = self._collection_id(session, collection)
            return list(
                session.scalars(
                    select(ImageRow.id).where(
                        ImageRow.collection_id == collection_id,
                        ImageRow.ingested_at < cutoff.astimezone(UTC).replace(tzinfo=None),
                    )
                )
            )

    # --- reports --------------------------------------------------------------------------

    def searches_by_purpose(self, since: datetime) -> dict[str, int]:
        with self._session() as session:
            rows = session.execute(
                select(SearchLogRow.purpose, func.count())
                .where(SearchLogRow.searched_at >= since.astimezone(UTC).replace(tzinfo=None))
                .group_by(SearchLogRow.purpose)
            )
            return {purpose: count for purpose, count in rows}

    # --- engine-wide facts --------------------------------------------------------------

    def counts(self) -> StoreCounts:
        with self._session() as session:
            by_status = dict(
                session.execute(select(FaceRow.status, func.count()).group_by(FaceRow.status)).all()
            )
            return StoreCounts(
                collections=session.scalar(select(func.count()).select_from(CollectionRow)) or 0,
                images=session.scalar(select(func.count()).select_from(ImageRow)) or 0,
                faces_accepted=by_status.get(ACCEPTED, 0),
                faces_rejected=by_status.get(REJECTED, 0),
                persons=session.scalar(select(func.count()).select_from(PersonRow)) or 0,
            )

    def get_meta(self, key: str) -> str | None:
        with self._session() as session:
            return session.scalar(select(MetaRow.value).where(MetaRow.key == key))

    def set_meta(self, key: str, value: str) -> None:
        with self._session.begin() as session:
            session.merge(MetaRow(key=key, value=value))


def _erased(face_ids: Sequence[int], gone: list[tuple[int, str]]) -> ErasedFaces:
    return ErasedFaces(
        face_ids=_ids(face_ids),
        image_ids=[i for i, _ in gone],
        image_locations=[loc for _, loc in gone],
    )


def _set_policy(row: CollectionRow, policy: CollectionPolicy) -> None:
    row.basis = policy.basis.value
    row.basis_text = policy.basis_text
    row.jurisdictions = list(policy.jurisdictions)
    row.purpose = policy.purpose
    row.retention_days = policy.retention_days
    row.seal_locations = policy.seal_locations


def _policy(row: CollectionRow) -> CollectionPolicy | None:
    if row.basis is None or row.purpose is None or row.retention_days is None:
        return None  # made before legal bases were recorded: declare one before ingesting
    return CollectionPolicy(
        basis=LegalBasis(row.basis),
        jurisdictions=list(row.jurisdictions),
        purpose=row.purpose,
        retention_days=row.retention_days,
        basis_text=row.basis_text,
        seal_locations=row.seal_locations,
    )


def _utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _provenance(image: ImageRow) -> Provenance:
    return Provenance(
        origin_url=image.origin_url,
        page_url=image.page_url,
        captured_at=image.captured_at,
        licence_ref=image.licence_ref,
        fetched_at=image.fetched_at,
    )


def _account(row: AccountRow) -> Account:
    return Account(
        id=row.id, name=row.name, role=row.role, created_at=row.created_at,
        disabled=row.disabled, jurisdiction=row.jurisdiction,
    )  # fmt: skip


def _consent(row: ConsentRow) -> Consent:
    return Consent(
        id=row.id, subject_ref=row.subject_ref, purpose=row.purpose, scope=list(row.scope),
        given_at=_utc(row.given_at), expires_at=row.expires_at and _utc(row.expires_at),
        evidence_ref=row.evidence_ref, last_interaction_at=_utc(row.last_interaction_at),
        withdrawn_at=row.withdrawn_at and _utc(row.withdrawn_at), person_id=row.person_id,
    )  # fmt: skip


def _subject_request(row: SubjectRequestRow) -> SubjectRequest:
    return SubjectRequest(
        id=row.id, kind=row.kind, request_ref=row.request_ref, status=row.status,
        created_at=_utc(row.created_at), created_by=row.created_by,
        faces_found=row.faces_found, faces_erased=row.faces_erased,
        images_erased=row.images_erased,
        completed_at=row.completed_at and _utc(row.completed_at), confirmed_by=row.confirmed_by,
        photos=row.photos, threshold=row.threshold,
        expected_false_candidates=row.expected_false_candidates,
        gallery_faces=row.gallery_faces, faces_confirmed=row.faces_confirmed,
    )  # fmt: skip


def _damaged(url: str, exc: DatabaseError) -> StoreDamagedError:
    where = url.removeprefix("sqlite:///")
    if "locked" in str(exc.orig or exc):
        return StoreDamagedError(
            f"the store {where} is locked by another program ({exc.orig}); close it and retry"
        )
    return StoreDamagedError(
        f"the store {where} is not a readable facelens database ({exc.orig}); restore "
        "facelens.db from a backup (the index is derived data: it is rebuilt from the store), "
        "or run `facelens doctor` for details"
    )


def _evidence_of_data(settings: Settings) -> list[str]:
    """What in the data folder shows that it held data: then a missing store is lost, not
    new."""
    data = settings.data_dir
    found = []
    index = data / "index"
    if index.is_dir() and any(p.is_file() and p.stat().st_size for p in index.iterdir()):
        found.append(f"index files in {index}")
    wal = data / (STORE_FILE + "-wal")
    if wal.is_file() and wal.stat().st_size:
        found.append(f"the store's write-ahead log {wal}")
    if (data / STORE_FILE).is_file():
        # An emptied store with the folder's keys. (Keys alone, with no store file, are left by
        # a data folder deleted on purpose: a new one in its place is new.)
        found += [f"its keys in {path}" for path in keys_of_data_folder(settings)]
    return found


def _sqlite(
    settings: Settings, cipher: TemplateCipher, *, guard: MigrationGuard | None = None
) -> SqlStore:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / STORE_FILE
    if not path.is_file() or path.stat().st_size == 0:
        # SQLite opens a missing or 0-byte file as a new, empty database: the index would then
        # be cut to nothing to match it. Only a folder that never held data is new.
        evidence = _evidence_of_data(settings)
        if evidence:
            state = "empty (0 bytes)" if path.is_file() else "missing"
            raise StoreMissingError(
                f"the store {path} is {state}, but this data folder held data "
                f"({'; '.join(evidence)}); restore facelens.db from a backup. Nothing was "
                "changed: the index is derived data and is left untouched"
            )
    return SqlStore(f"sqlite:///{path}", cipher, backend="sqlite", guard=guard)


register_store("sqlite", _sqlite)
