"""What the doors (CLI, HTTP API) read and record through the engine: accounts, the
audit and search logs, collections, images, faces, persons, consents, subject requests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from facelens.engine.state import SOURCE_VIEW_AUDIT_ACTION, EngineState
from facelens.errors import NotFoundError
from facelens.pipeline.decode import RgbImage
from facelens.privacy.audit import AuditEntry
from facelens.privacy.policy import CollectionPolicy
from facelens.privacy.transparency import TransparencyReport, transparency_report
from facelens.security.accounts import Role, authenticate, create_account
from facelens.store.base import FaceRecord, ImageRecord
from facelens.types import (
    Account,
    Caller,
    Consent,
    Person,
    SearchRecord,
    Stats,
    SubjectRequest,
)


class Records(EngineState):
    """What the doors read and record."""

    def audit_entries(self, after_id: int = 0, limit: int | None = None) -> list[AuditEntry]:
        """Audit entries after ``after_id``, oldest first, each with its chain hashes."""
        return self.store.audit_entries(after_id, limit)

    def create_account(
        self, name: str, role: Role, jurisdiction: str | None = None
    ) -> tuple[Account, str]:
        """A new account of the HTTP API and its key (returned once; only a hash is kept)."""
        return create_account(self.store, name, role, jurisdiction)

    def authenticate(self, key: str | None) -> Account:
        """The account an API key belongs to; ``AuthenticationError`` otherwise."""
        return authenticate(self.store, key)

    def account(self, account_id: int) -> Account | None:
        """The account with this id, or None."""
        found = self.store.account_with_key_hash(account_id)
        return found[0] if found is not None else None

    def accounts(self) -> list[Account]:
        return self.store.accounts()

    def search_log(self, account_id: int | None = None, limit: int = 100) -> list[SearchRecord]:
        """Newest first: one account's searches, or everyone's."""
        return self.store.search_log(account_id, limit)

    def transparency_report(self, since: datetime) -> TransparencyReport:
        """Counts since ``since`` (nothing in it identifies a person)."""
        return transparency_report(self.store, since)

    def collection_names(self) -> list[str]:
        return self.store.collection_names()

    def collection_counts(self, name: str) -> tuple[int, int]:
        """Images and accepted faces in the collection; ``NotFoundError`` when unknown."""
        return self.store.collection_counts(name)

    def collection_policy(self, name: str) -> CollectionPolicy | None:
        return self.store.collection_policy(name)

    def collection_policies(self) -> dict[str, CollectionPolicy | None]:
        return self.store.collection_policies()

    def known_image_hashes(self, collection: str) -> set[str]:
        """The sha256 of every image in ``collection``."""
        return self.store.known_image_hashes(collection)

    def images(
        self, collection: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[ImageRecord]:
        """Oldest first; ``NotFoundError`` for an unknown collection."""
        return self.store.images(collection, offset, limit)

    def image_record(self, image_id: int) -> ImageRecord:
        """``NotFoundError`` when unknown."""
        return self.store.image_record(image_id)

    def accepted_face_ids(
        self, *, image_id: int | None = None, person_id: int | None = None
    ) -> list[int]:
        return self.store.accepted_face_ids(image_id=image_id, person_id=person_id)

    def face_records(self, face_ids: Sequence[int]) -> dict[int, FaceRecord]:
        return self.store.face_records(face_ids)

    def face_record(self, face_id: int) -> FaceRecord:
        """``NotFoundError`` when there is no such face."""
        record = self.store.face_records([face_id]).get(face_id)
        if record is None:
            raise NotFoundError(f"no face {face_id}")
        return record

    def face_source(
        self, face_id: int, *, caller: Caller | None = None, view: str = "source"
    ) -> tuple[FaceRecord, RgbImage]:
        """The face and the whole image it was found in, decoded; the view (``view``: what
        is shown of it, e.g. "source" or "thumbnail") is audited."""
        record = self.face_record(face_id)
        path = Path(record.image_location)
        if not path.is_file():
            raise NotFoundError(f"the source of face {face_id} is no longer at {path}")
        image = self.pipeline.load(path)
        self.audit(
            caller or Caller.python(), SOURCE_VIEW_AUDIT_ACTION, f"face {face_id}", {"view": view}
        )
        return record, image

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
        """Record a subject's consent, with the evidence for it."""
        return self.store.add_consent(
            subject_ref=subject_ref,
            purpose=purpose,
            scope=scope,
            given_at=given_at,
            expires_at=expires_at,
            evidence_ref=evidence_ref,
        )

    def consents(self) -> list[Consent]:
        return self.store.consents()

    def subject_requests(self) -> list[SubjectRequest]:
        """Every access and erasure request and its outcome."""
        return self.store.subject_requests()

    def persons(self) -> list[Person]:
        return self.store.persons()

    def person(self, person_id: int) -> Person:
        for person in self.store.persons():
            if person.id == person_id:
                return person
        raise NotFoundError(f"no person with id {person_id}")

    def stats(self) -> Stats:
        counts = self.store.counts()
        return Stats(
            collections=counts.collections,
            images=counts.images,
            faces_indexed=counts.faces_accepted,
            faces_rejected=counts.faces_rejected,
            persons=counts.persons,
            index_count=self.index.count(),
            model=self.model,
            store_backend=self.store.backend,
            index_backend=self.index.backend,
            index_params=self.index.params(),
            faces_quarantined=len(self.store.quarantined_face_ids()),
            faces_indexed_by_size=counts.faces_accepted_by_size,
            faces_rejected_by_size=counts.faces_rejected_by_size,
        )
