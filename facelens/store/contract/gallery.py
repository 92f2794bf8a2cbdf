"""The gallery part of the store contract: collections, images, faces and their templates,
persons, and the store's own facts (counts, meta values, integrity)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from facelens.privacy.policy import CollectionPolicy
from facelens.security.crypto import TemplateCipher
from facelens.store.records import (
    AddedImage,
    ErasedFaces,
    FaceRecord,
    ImageRecord,
    NewImage,
    PersonRejection,
    StoreCounts,
)
from facelens.types import (
    FaceQuality,
    FloatArray,
    IdArray,
    ImageAnalysis,
    ModelId,
    Person,
    Provenance,
)


class GalleryStore(Protocol):
    """Collections, images with provenance, faces with sealed templates, persons."""

    backend: str  # the registered backend name, e.g. "sqlite"
    cipher: TemplateCipher  # seals every template the store writes

    def close(self) -> None:
        """Release the database connections; the store is not used after this."""
        ...

    # --- collections and their legal basis ----------------------------------------------

    def ensure_collection(self, name: str) -> int:
        """Id of the collection named ``name``, created (with no legal basis) if missing."""
        ...

    def collection_names(self) -> list[str]:
        """Names of all collections, sorted by name."""
        ...

    def create_collection(self, name: str, policy: CollectionPolicy) -> None:
        """Create a collection with its legal basis; ``ConflictError`` when the name is taken."""
        ...

    def set_collection_policy(self, name: str, policy: CollectionPolicy) -> None:
        """Replace the collection's legal basis (sealing its locations at once if the policy
        asks); ``NotFoundError`` for an unknown collection."""
        ...

    def collection_policy(self, name: str) -> CollectionPolicy | None:
        """The collection's legal basis; ``None`` for a collection made before legal bases were
        recorded, ``NotFoundError`` for an unknown one."""
        ...

    def collection_policies(self) -> dict[str, CollectionPolicy | None]:
        """Every collection's legal basis (``None`` where none was recorded), keyed by name."""
        ...

    # --- images and faces -----------------------------------------------------------------

    def known_image_hashes(self, collection: str) -> set[str]:
        """The sha256 of every image in the collection (empty for an unknown collection)."""
        ...

    def known_origin_urls(self, collection: str) -> set[str]:
        """The URLs the collection's images were fetched from (a manifest rerun skips them)."""
        ...

    def add_image(
        self,
        *,
        collection: str,
        location: str,
        sha256: str,
        analysis: ImageAnalysis,
        provenance: Provenance,
    ) -> AddedImage | None:
        """Store an image and all its faces in one transaction (``NotFoundError`` unless the
        collection exists); ``None`` if the collection already holds an image with this
        sha256."""
        ...

    def add_images(self, collection: str, images: Sequence[NewImage]) -> list[AddedImage | None]:
        """The bulk path: ``images`` stored in one transaction, each as ``add_image`` stores
        it; ``None`` for content the collection holds already (or earlier in ``images``)."""
        ...

    def image_face_ids(self, collection: str, sha256: str) -> IdArray:
        """Accepted face ids of the image with this content in ``collection``, ascending (the
        analysis's order), empty when there is no such image."""
        ...

    def face_records(self, face_ids: Sequence[int]) -> dict[int, FaceRecord]:
        """What a search result shows about each face, keyed by face id; unknown ids are left
        out."""
        ...

    def face_owners(self, face_ids: Sequence[int]) -> dict[int, tuple[int, int | None]]:
        """The image id and person id (None: unassigned) of each face, keyed by face id;
        unknown ids are left out. Opens nothing sealed: for bulk use (calibration)."""
        ...

    def images(
        self, collection: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[ImageRecord]:
        """A page of images (all, or one collection's), oldest first; ``NotFoundError`` for an
        unknown collection."""
        ...

    def image_record(self, image_id: int) -> ImageRecord:
        """The image with its accepted face ids (ascending); ``NotFoundError`` when unknown."""
        ...

    def collection_counts(self, name: str) -> tuple[int, int]:
        """Images and accepted faces in the collection; ``NotFoundError`` when unknown."""
        ...

    def accepted_face_ids(
        self, *, image_id: int | None = None, person_id: int | None = None
    ) -> list[int]:
        """Ids of the accepted faces (of one image and/or one person, or all), ascending."""
        ...

    def indexed_face_ids(self, model: ModelId) -> IdArray:
        """Ids of the accepted faces embedded by ``model``, ascending, quarantined ones left
        out (empty for a model never used)."""
        ...

    def embeddings(
        self, model: ModelId, *, face_ids: Sequence[int] | None = None, batch_size: int = 10_000
    ) -> Iterator[tuple[IdArray, FloatArray]]:
        """Accepted faces of ``model`` (all, ascending in batches of ``batch_size``, or those in
        ``face_ids``) as (ids, (n, dim) float32 vectors). A template that does not open
        (damaged) is left out and quarantined, never an error."""
        ...

    def face_ids_in_collections(self, names: Sequence[str], model: ModelId) -> IdArray:
        """Accepted face ids of ``model`` in the named collections, ascending;
        ``NotFoundError`` for an unknown name."""
        ...

    def face_qualities(self, face_ids: Sequence[int]) -> dict[int, FaceQuality]:
        """Each face's quality figures as measured at ingest (box short side, chip
        sharpness, rejection reason), keyed by face id; unknown ids are left out."""
        ...

    def face_landmarks(self, face_ids: Sequence[int]) -> dict[int, list[list[float]]]:
        """The five (x, y) landmarks of each face (opened, rounded to 0.01 px), keyed by face
        id; unknown ids are left out."""
        ...

    def location_in_use(self, location: str) -> bool:
        """Whether any stored image (in any collection) has this location."""
        ...

    # --- templates and identifying data sealed at rest --------------------------------------

    def quarantined_face_ids(self) -> list[int]:
        """Faces whose stored template was found not to open (still in the store), ascending;
        ``indexed_face_ids`` leaves them out."""
        ...

    def scan_templates(self, model: ModelId) -> list[int]:
        """Open every stored template of ``model`` (quarantining those that do not open);
        returns the quarantined face ids, ascending."""
        ...

    def reseal_templates(self, old: TemplateCipher | None, new: TemplateCipher) -> int:
        """Re-seal every stored template with ``new`` in one transaction (key rotation; ``old``
        ``None``: they are plain), and the sealed names, landmarks and locations with it; the
        store then uses ``new``. Returns how many values were re-sealed."""
        ...

    def seal_identifying_data(self) -> int:
        """Seal names, landmarks and (where the collection asks) locations still plain;
        returns how many were sealed (0: nothing was plain)."""
        ...

    # --- another model's embeddings, staged while re-indexing -----------------------------

    def stage_embeddings(
        self, model: ModelId, face_ids: Sequence[int], vectors: FloatArray
    ) -> None:
        """Keep ``vectors`` ((n, dim) float32, sealed) as the faces' embeddings of ``model``
        until ``switch_model``, replacing any staged before; a deleted face takes its own
        along. ``InvalidArgumentError`` when the shapes disagree."""
        ...

    def staged_face_ids(self, model: ModelId) -> IdArray:
        """Ids of the faces with a staged embedding of ``model``, ascending."""
        ...

    def switch_model(self, model: ModelId, meta: Mapping[str, str | None]) -> int:
        """In one transaction: every accepted face takes its staged embedding of ``model``
        (and ``model`` as its model), the staged embeddings of every model are cleared, the
        quarantine is emptied and ``meta`` is written (a ``None`` value deletes its key).
        Returns the faces switched. ``ConflictError``, and nothing changed, while an accepted
        face has no staged embedding of ``model``."""
        ...

    # --- deletion: each says which indexed faces and which images it removed -------------------

    def delete_images(self, image_ids: Sequence[int]) -> ErasedFaces:
        """Delete images with all their faces; ``NotFoundError`` (nothing deleted) for an
        unknown id."""
        ...

    def delete_faces(self, face_ids: Sequence[int]) -> ErasedFaces:
        """Delete faces and the images left with none; ``NotFoundError`` (nothing deleted) for
        an unknown id."""
        ...

    def delete_person(self, person_id: int) -> ErasedFaces:
        """Delete a person, their faces and the images left with none; ``NotFoundError`` when
        unknown."""
        ...

    def delete_collection(self, name: str) -> ErasedFaces:
        """Delete a collection with its images and faces; ``NotFoundError`` when unknown."""
        ...

    def checkpoint(self) -> None:
        """Make deletions final on disk (no copy left in a write-ahead log)."""
        ...

    # --- persons ----------------------------------------------------------------------------

    def person_id(self, name: str) -> int | None:
        """Id of the person named ``name`` (names compare case- and space-insensitively), or
        ``None``."""
        ...

    def get_or_create_person(self, name: str) -> int:
        """Id of the person named ``name``, created if missing."""
        ...

    def assign_faces(self, person_id: int, face_ids: Sequence[int]) -> None:
        """Make the faces the person's; ``NotFoundError`` for an unknown person or face,
        ``MatchRejectedError`` (nothing assigned) for a face with a standing rejection for
        the person."""
        ...

    def persons(self) -> list[Person]:
        """Every person with their face ids (ascending), sorted by name then id."""
        ...

    def face_persons(self, face_ids: Sequence[int]) -> dict[int, int]:
        """The person of each of ``face_ids`` that has one, keyed by face id (faces without a
        person and unknown ids are left out). Made for thousands of ids (the score cohort)."""
        ...

    def rename_person(self, person_id: int, name: str) -> None:
        """Rename a person; ``NotFoundError`` when unknown, ``ConflictError`` when the name is
        taken."""
        ...

    def merge_persons(self, into_id: int, other_id: int) -> None:
        """Move ``other_id``'s faces and rejections (withdrawn ones too) to ``into_id`` and
        delete ``other_id``; ``InvalidArgumentError`` for the same id, ``NotFoundError`` for
        an unknown one, ``MatchRejectedError`` (nothing changed) when either person has a
        standing rejection of a face of the other."""
        ...

    def split_person(self, person_id: int, face_ids: Sequence[int], name: str) -> int:
        """In one transaction, a new person ``name`` holding ``face_ids`` taken from
        ``person_id``; returns its id. ``InvalidArgumentError`` for no face, a face not the
        person's or every face of theirs; ``NotFoundError`` for an unknown person,
        ``ConflictError`` when the name is taken."""
        ...

    # --- reviewers' "not this person" -----------------------------------------------------

    def reject_face(self, person_id: int, face_id: int, actor: str) -> PersonRejection:
        """Record (``actor``, now) that the face is not the person and, in the same
        transaction, take it from them if it was theirs. A standing rejection is returned
        as it is. ``NotFoundError`` for an unknown person or face. The row goes with the
        person or the face when either is deleted or erased."""
        ...

    def withdraw_rejection(self, person_id: int, face_id: int, actor: str) -> PersonRejection:
        """Withdraw the standing rejection (``actor``, now; the row stays, as the record);
        ``NotFoundError`` when none stands."""
        ...

    def rejections(
        self, person_id: int | None = None, *, withdrawn: bool = False
    ) -> list[PersonRejection]:
        """Standing rejections of one person or everyone's (``withdrawn``: withdrawn ones
        too), oldest first; ``NotFoundError`` for an unknown person."""
        ...

    # --- store-wide facts ---------------------------------------------------------------------

    def counts(self) -> StoreCounts:
        """How many collections, images, accepted and rejected faces and persons are stored,
        and the faces by size band: accepted ones, rejected ones by reason."""
        ...

    def get_meta(self, key: str) -> str | None:
        """The meta value stored under ``key``, or ``None``."""
        ...

    def set_meta(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing any value there."""
        ...

    def gallery_generation(self) -> int:
        """A number that rises whenever the faces an index should hold may have changed (a
        face added, deleted, accepted or rejected, re-embedded, quarantined), and only then:
        an index that recorded it can tell in one read whether it is still whole."""
        ...

    def integrity_problems(self) -> list[str]:
        """What the database's own integrity check finds wrong (empty: nothing)."""
        ...
