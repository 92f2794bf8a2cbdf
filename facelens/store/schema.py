"""Tables of the metadata store (SQLAlchemy 2 ORM). Migrations in ``migrations/`` mirror these;
``tests/test_store.py`` fails when the two drift apart."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utc_now() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A time kept as UTC and handed back aware (UTC). SQLite keeps no zone, so a time is
    stored as naive UTC, as before (the audit chain hashes ``at`` that way), and comes back
    with ``tzinfo=UTC``: callers and JSON never see a time without its offset."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value  # a naive time is UTC already (everything facelens writes is)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class ModelRow(Base):
    """An embedding model; every stored embedding points at the one that made it."""

    __tablename__ = "models"
    __table_args__ = (
        UniqueConstraint("name", "version", "dim", name="uq_models_name_version_dim"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(100))
    dim: Mapped[int] = mapped_column(Integer)


class CollectionRow(Base):
    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    # The legal basis (``facelens.privacy.policy.CollectionPolicy``); ingest is refused while unset.
    basis: Mapped[str | None] = mapped_column(String(30))
    basis_text: Mapped[str | None] = mapped_column(Text)
    jurisdictions: Mapped[list[str]] = mapped_column(JSON, server_default="[]")
    purpose: Mapped[str | None] = mapped_column(Text)
    retention_days: Mapped[int | None] = mapped_column(Integer)
    # Image locations (paths often name the person) sealed with the template key.
    seal_locations: Mapped[bool] = mapped_column(default=False, server_default=false())

    images: Mapped[list[ImageRow]] = relationship(
        back_populates="collection", cascade="all, delete-orphan", passive_deletes=True
    )


class ImageRow(Base):
    """One ingested image and where it came from. Unique by content within a collection."""

    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("collection_id", "sha256", name="uq_images_collection_sha256"),
        Index("ix_images_sha256", "sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    # Absolute path or URL: plain, or (collections that seal locations) "" with the sealed
    # value (bound to the row id); the blind index serves equality lookups either way.
    location: Mapped[str] = mapped_column(Text)
    location_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    location_index: Mapped[str | None] = mapped_column(String(64), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    origin_url: Mapped[str | None] = mapped_column(Text)
    page_url: Mapped[str | None] = mapped_column(Text)
    captured_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    licence_ref: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ingested_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)

    collection: Mapped[CollectionRow] = relationship(back_populates="images")
    faces: Mapped[list[FaceRow]] = relationship(
        back_populates="image", cascade="all, delete-orphan", passive_deletes=True
    )


class PersonRow(Base):
    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The blind index (HMAC) of the normalised name, which keeps names unique; the name itself
    # is in ``name_sealed`` (bound to the row id). Plain, with no sealed copy, only in a
    # database from before 0007 not yet opened with its key. (Kept in this column, not a new
    # one: SQLite would rebuild the table, and dropping it would cascade to the faces.)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class FaceRow(Base):
    """A detected face. Accepted faces have an embedding and are in the index under ``id``;
    rejected ones keep their reason and have none. Ids are never reused (AUTOINCREMENT), so a
    deleted face's id cannot come back as someone else."""

    __tablename__ = "faces"
    __table_args__ = (
        Index("ix_faces_model_status", "model_id", "status"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    # The box stays plain: thumbnails, the size filter and erasure need it without the key,
    # and four integers identify no one without the image (whose path may be sealed).
    x1: Mapped[int] = mapped_column(Integer)
    y1: Mapped[int] = mapped_column(Integer)
    x2: Mapped[int] = mapped_column(Integer)
    y2: Mapped[int] = mapped_column(Integer)
    # Plain JSON only before 0007's first open with the key; then sealed, bound to the row id.
    landmarks: Mapped[list[list[float]] | None] = mapped_column(JSON)
    landmarks_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    detector: Mapped[str] = mapped_column(String(100))
    detector_score: Mapped[float] = mapped_column(Float)
    size_px: Mapped[int] = mapped_column(Integer)
    sharpness: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20))  # "accepted" | "rejected"
    rejection_reason: Mapped[str | None] = mapped_column(String(100))
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id"))
    # float32 little-endian, sealed with the template key (``facelens.security.crypto``)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL"), index=True
    )
    # The consent this face was enrolled under (consent collections): withdrawing it erases it.
    consent_id: Mapped[int | None] = mapped_column(
        ForeignKey("consents.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)

    image: Mapped[ImageRow] = relationship(back_populates="faces")
    person: Mapped[PersonRow | None] = relationship()
    model: Mapped[ModelRow | None] = relationship()


class MetaRow(Base):
    """Engine-wide facts, such as which model the index holds."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class AccountRow(Base):
    """A user of the service. Only a hash of the API key is kept."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the key's secret part
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    disabled: Mapped[bool] = mapped_column(default=False)
    jurisdiction: Mapped[str | None] = mapped_column(String(20))


class SearchLogRow(Base):
    """Every search: who, when, why (purpose and case reference), over what, the hash of each
    probe embedding and the faces shown. Never the probe image or its embedding."""

    __tablename__ = "search_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    searched_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    purpose: Mapped[str] = mapped_column(Text)
    case_ref: Mapped[str] = mapped_column(String(200))
    collections: Mapped[list[str]] = mapped_column(JSON)
    probe_faces: Mapped[int] = mapped_column(Integer)
    results: Mapped[int] = mapped_column(Integer)
    matches: Mapped[int] = mapped_column(Integer)  # results at or above the threshold
    threshold: Mapped[float] = mapped_column(Float)
    probe_sha256: Mapped[list[str]] = mapped_column(JSON, server_default="[]")
    result_face_ids: Mapped[list[int]] = mapped_column(JSON, server_default="[]")


class AuditRow(Base):
    """The tamper-evident audit log: each entry carries the hash of the one before."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, object]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ConsentRow(Base):
    """The consent registry: who consented, to what, when, until when, and the evidence."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_ref: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text)
    scope: Mapped[list[str]] = mapped_column(JSON)  # collection names
    given_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    evidence_ref: Mapped[str] = mapped_column(Text)
    last_interaction_at: Mapped[datetime] = mapped_column(UtcDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL"), index=True
    )


class SubjectRequestRow(Base):
    """A data subject's access or erasure request. The requester's template is kept, sealed,
    only while an erasure waits for an admin's confirmation."""

    __tablename__ = "subject_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    request_ref: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    created_by: Mapped[str] = mapped_column(String(200))
    faces_found: Mapped[int] = mapped_column(Integer, default=0)
    faces_erased: Mapped[int] = mapped_column(Integer, default=0)
    images_erased: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    confirmed_by: Mapped[str | None] = mapped_column(String(200))
    template: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed; before 0006 only
    photos: Mapped[int] = mapped_column(Integer, default=1)
    threshold: Mapped[float | None] = mapped_column(Float)
    expected_false_candidates: Mapped[float | None] = mapped_column(Float)
    gallery_faces: Mapped[int] = mapped_column(Integer, default=0)
    faces_confirmed: Mapped[int] = mapped_column(Integer, default=0)


class SubjectRequestTemplateRow(Base):
    """One photo's template of a requester (sealed), kept only while the request is pending."""

    __tablename__ = "subject_request_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("subject_requests.id", ondelete="CASCADE"), index=True
    )
    template: Mapped[bytes] = mapped_column(LargeBinary)


class SubjectRequestCandidateRow(Base):
    """A stored face that may be the requester's, and the admin's decision on it. Ids and a
    score only; the face itself may since have been erased (no foreign key, by design)."""

    __tablename__ = "subject_request_candidates"

    request_id: Mapped[int] = mapped_column(
        ForeignKey("subject_requests.id", ondelete="CASCADE"), primary_key=True
    )
    face_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    similarity: Mapped[float] = mapped_column(Float)
    decision: Mapped[str] = mapped_column(String(20), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SuppressionRow(Base):
    """Someone who opted out: their template (sealed), so ingest skips their faces and search
    never shows them. Nothing else about them is kept."""

    __tablename__ = "suppression"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("subject_requests.id"))
    template: Mapped[bytes] = mapped_column(LargeBinary)


class StagedEmbeddingRow(Base):
    """A face re-embedded by another model while ``reindex`` runs (sealed like every
    template); moved into ``faces`` all at once when every accepted face has one, then
    cleared. A rerun skips the faces already here."""

    __tablename__ = "staged_embeddings"
    __table_args__ = (
        UniqueConstraint("face_id", "model_id", name="uq_staged_embeddings_face_model"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    face_id: Mapped[int] = mapped_column(ForeignKey("faces.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), index=True)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class PersonRejectionRow(Base):
    """A reviewer's "not this person" on a face: from then on the face is never proposed for
    the person (``search_person``) nor assigned to them, until the rejection is withdrawn.
    Who said it and when, and who withdrew it and when (withdrawn rows are kept: the
    record). The row goes with the person or the face: deleting means gone everywhere."""

    __tablename__ = "person_rejections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    face_id: Mapped[int] = mapped_column(ForeignKey("faces.id", ondelete="CASCADE"), index=True)
    rejected_by: Mapped[str] = mapped_column(String(200))
    rejected_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    withdrawn_by: Mapped[str | None] = mapped_column(String(200))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class FaceClusterRow(Base):
    """A proposed person: faces of one collection that clustering found alike, not yet named
    (``facelens people cluster``). Accepted, it becomes a person and goes; dismissed, it stays
    so that its faces are not proposed again. Ids are never reused."""

    __tablename__ = "face_clusters"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20))  # "proposed" | "dismissed"
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class FaceClusterMemberRow(Base):
    """A face in a proposed person (one at most): ids only, gone with the face or cluster."""

    __tablename__ = "face_cluster_members"

    face_id: Mapped[int] = mapped_column(
        ForeignKey("faces.id", ondelete="CASCADE"), primary_key=True
    )
    cluster_id: Mapped[int] = mapped_column(
        ForeignKey("face_clusters.id", ondelete="CASCADE"), index=True
    )
    added_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
