"""Persons: enrolment (against consent where the basis is consent), naming faces, and
reviewers' feedback: "not this person" on a face (and its withdrawal), merging and splitting
persons, each audited with who did it and the ids concerned (never names: they are sealed)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from facelens.engine.erasure import Erasure
from facelens.engine.policy import Policy
from facelens.engine.probe import Probe
from facelens.engine.records import Records
from facelens.engine.state import (
    PERSON_MERGE_AUDIT_ACTION,
    PERSON_REJECT_AUDIT_ACTION,
    PERSON_SPLIT_AUDIT_ACTION,
    PERSON_UNREJECT_AUDIT_ACTION,
)
from facelens.engine.suppression import Suppression
from facelens.errors import (
    ConsentRequiredError,
    InvalidArgumentError,
    MatchRejectedError,
    NoFaceFoundError,
    RefusedError,
)
from facelens.pipeline.decode import read_image_bytes
from facelens.privacy.policy import LegalBasis
from facelens.store.records import PersonRejection
from facelens.types import (
    Caller,
    ImageAnalysis,
    Person,
    Provenance,
)


@dataclass(frozen=True, slots=True)
class _Enrolment:
    """A photo to enrol, analysed but not stored yet (``face_id`` when it already is)."""

    location: str
    sha256: str
    analysis: ImageAnalysis | None
    face_id: int | None


class Persons(Policy, Probe, Suppression, Erasure, Records):
    """Enrolment and naming faces."""

    def enrol(
        self,
        name: str,
        photos: Iterable[str | Path],
        *,
        collection: str = "enrolment",
        consent_id: int | None = None,
    ) -> Person:
        """Create (or extend) the person ``name`` with the main face of each photo.

        Photos are ingested into ``collection``; a photo already there is not stored twice. In
        a collection whose basis is consent, ``consent_id`` must name a valid consent record
        covering the collection and not another person's, and only the subject's face of each
        photo is kept. Every rule is checked and every photo analysed before anything is
        stored: a refusal, or a photo with no usable face, stores nothing (and facelens's own
        copies of the photos, such as uploads, are deleted).
        """
        if not name.strip():
            raise InvalidArgumentError("a person needs a non-empty name")
        paths = [Path(photo) for photo in photos]
        try:
            policy = self.policy_for_ingest(collection)
            consent = None
            if policy.basis == LegalBasis.CONSENT:
                consent = self.valid_consent(consent_id, collection)
                if consent.person_id not in (None, self.store.person_id(name)):
                    raise ConsentRequiredError(
                        f"consent record {consent.id} is another person's (person "
                        f"{consent.person_id}); each person enrols under their own consent"
                    )
            prepared = [
                self._prepare_enrolment(photo, name, collection, subject_only=consent is not None)
                for photo in paths
            ]
            self._refuse_rejected(name, [p.face_id for p in prepared if p.face_id is not None])
        except Exception:
            self._remove_owned_files([str(p.resolve()) for p in paths])
            raise
        face_ids = [self._store_enrolment(item, collection) for item in prepared]
        person_id = self.store.get_or_create_person(name)
        if consent is not None:
            self.store.update_consent(
                consent.id, person_id=person_id, last_interaction_at=datetime.now(UTC)
            )
            self.store.set_face_consent(face_ids, consent.id)
        self.store.assign_faces(person_id, face_ids)
        self.persons_changed()
        return self.person(person_id)

    def _refuse_rejected(self, name: str, face_ids: Sequence[int]) -> None:
        """``MatchRejectedError`` when a reviewer said one of the stored faces is not the
        person ``name`` (checked before anything is stored)."""
        person_id = self.store.person_id(name)
        if person_id is None or not face_ids:
            return
        rejected = sorted({r.face_id for r in self.store.rejections(person_id)} & set(face_ids))
        if rejected:
            raise MatchRejectedError(
                f"face {', '.join(map(str, rejected))} was marked not person {person_id}; "
                "withdraw the rejection first (`facelens person unreject`, or POST "
                f"/persons/{person_id}/rejections/{rejected[0]}/withdraw) if it was a mistake"
            )

    def _prepare_enrolment(
        self, photo: Path, name: str, collection: str, *, subject_only: bool = False
    ) -> _Enrolment:
        """Read and analyse ``photo`` without storing anything; refuses a face of someone who
        opted out, and a photo with no usable face. With ``subject_only``, other people in the
        photo are left out (they did not consent)."""
        data = read_image_bytes(photo, self.settings.max_image_bytes)
        sha256 = hashlib.sha256(data).hexdigest()
        stored = self.store.image_face_ids(collection, sha256)
        if len(stored):
            return _Enrolment(str(photo.resolve()), sha256, None, int(stored[0]))
        analysis, accepted = self.probe_faces(data, str(photo))
        if subject_only:
            analysis = ImageAnalysis(analysis.width, analysis.height, accepted[:1])
        analysis, suppressed = self._without_suppressed(analysis)
        if suppressed and not analysis.accepted_faces:
            # Never say which file: it may be where an erased person's photo still is.
            raise RefusedError(
                "the face belongs to someone who opted out (suppression list); it is not stored",
                rule="suppression",
            )
        if not analysis.accepted_faces:
            raise NoFaceFoundError(
                f"{photo}: no usable face to enrol; use a clear, frontal photo of {name}"
            )
        return _Enrolment(str(photo.resolve()), sha256, analysis, None)

    def _store_enrolment(self, item: _Enrolment, collection: str) -> int:
        """The id of the enrolled photo's largest face, storing the photo first if needed."""
        if item.face_id is not None:
            return item.face_id
        assert item.analysis is not None
        added = self.store.add_image(
            collection=collection,
            location=item.location,
            sha256=item.sha256,
            analysis=item.analysis,
            provenance=Provenance(),
        )
        if added is not None and len(added.face_ids):
            self.index.add(added.face_ids, added.vectors)
            self._persist_index()
        ids = self.store.image_face_ids(collection, item.sha256)
        return int(ids[0])  # faces are stored largest first: the subject of the photo

    def assign(self, person_name: str, face_ids: Sequence[int]) -> Person:
        person_id = self.store.get_or_create_person(person_name)
        self.store.assign_faces(person_id, list(face_ids))
        self.persons_changed()
        return self.person(person_id)

    def create_person(self, name: str) -> Person:
        """The person ``name``, created when there is none (names are unique)."""
        return self.person(self.store.get_or_create_person(name))

    def rename_person(self, person_id: int, name: str) -> Person:
        self.store.rename_person(person_id, name)
        return self.person(person_id)

    def assign_faces(self, person_id: int, face_ids: Sequence[int]) -> Person:
        """Assign faces to the person ``person_id``."""
        self.store.assign_faces(person_id, list(face_ids))
        self.persons_changed()
        return self.person(person_id)

    def merge_persons(self, into_id: int, other_id: int, *, caller: Caller | None = None) -> Person:
        """Move the other person's faces, and their rejections ("not this person"), to
        ``into_id`` and delete the other; audited. Refused (``MatchRejectedError``) while
        either person has a standing rejection of a face of the other."""
        moved = self.person(other_id).face_ids
        self.store.merge_persons(into_id, other_id)
        self.persons_changed()
        self.audit(
            caller or Caller.python(), PERSON_MERGE_AUDIT_ACTION, f"person {into_id}",
            {"other_person_id": other_id, "face_ids": moved},
        )  # fmt: skip
        return self.person(into_id)

    def split_person(
        self, person_id: int, face_ids: Sequence[int], name: str, *, caller: Caller | None = None
    ) -> Person:
        """Move ``face_ids`` (some, not all, of the person's faces) into a new person
        ``name``, and return the new person; audited. The new person starts with no
        rejections: those stay with ``person_id``."""
        if not name.strip():
            raise InvalidArgumentError("a person needs a non-empty name")
        new_id = self.store.split_person(person_id, list(face_ids), name.strip())
        self.persons_changed()
        self.audit(
            caller or Caller.python(), PERSON_SPLIT_AUDIT_ACTION, f"person {person_id}",
            {"new_person_id": new_id, "face_ids": sorted(set(face_ids))},
        )  # fmt: skip
        return self.person(new_id)

    def reject_match(
        self, person_id: int, face_id: int, *, caller: Caller | None = None
    ) -> PersonRejection:
        """A reviewer's "not this person": recorded with who (``caller``) and when, and the
        face taken from the person if it was theirs. From then on ``search_person`` never
        proposes the face for the person, and assigning it to them is refused
        (``MatchRejectedError``), until ``withdraw_rejection``. Audited."""
        caller = caller or Caller.python()
        was_theirs = face_id in self.person(person_id).face_ids
        rejection = self.store.reject_face(person_id, face_id, caller.actor)
        self.audit(
            caller, PERSON_REJECT_AUDIT_ACTION, f"person {person_id}",
            {"face_id": face_id, "rejection_id": rejection.id, "unassigned": was_theirs},
        )  # fmt: skip
        return rejection

    def withdraw_rejection(
        self, person_id: int, face_id: int, *, caller: Caller | None = None
    ) -> PersonRejection:
        """Withdraw a standing "not this person" (recorded with who and when; the rejection
        stays on record); the face may then be proposed for and assigned to the person
        again. ``NotFoundError`` when none stands. Audited."""
        caller = caller or Caller.python()
        rejection = self.store.withdraw_rejection(person_id, face_id, caller.actor)
        self.audit(
            caller, PERSON_UNREJECT_AUDIT_ACTION, f"person {person_id}",
            {"face_id": face_id, "rejection_id": rejection.id},
        )  # fmt: skip
        return rejection

    def rejections(
        self, person_id: int | None = None, *, withdrawn: bool = False
    ) -> list[PersonRejection]:
        """Standing "not this person" rejections of one person or everyone's (``withdrawn``:
        withdrawn ones too), oldest first."""
        return self.store.rejections(person_id, withdrawn=withdrawn)
