"""Deletion and erasure: the store, the index and facelens's own copies of images at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from facelens.engine.index_sync import IndexSync
from facelens.engine.state import OWNED_FOLDERS, SYSTEM_ACTOR, log
from facelens.errors import InvalidArgumentError
from facelens.store.base import ErasedFaces
from facelens.types import FloatArray


class Erasure(IndexSync):
    """Deletion and erasure everywhere at once."""

    def delete(
        self,
        *,
        image: int | None = None,
        face: int | None = None,
        person: int | None = None,
        collection: str | None = None,
    ) -> int:
        """Delete one thing (and its faces) from the store and the index; returns how many
        indexed faces went. The index drops them at once; in its approximate tier their
        32-byte codes are compacted away in the background (``erase`` compacts at once)."""
        given = [x for x in (image, face, person, collection) if x is not None]
        if len(given) != 1:
            raise InvalidArgumentError("name exactly one of image, face, person or collection")
        if image is not None:
            erased = self.store.delete_images([image])
        elif face is not None:
            erased = self.store.delete_faces([face])
        elif person is not None:
            erased = self.store.delete_person(person)
        else:
            assert collection is not None
            erased = self.store.delete_collection(collection)
        self.after_erasure(erased, compact=False)
        return len(erased.face_ids)

    def erase(
        self,
        face_ids: Sequence[int],
        *,
        suppress: FloatArray | None = None,
        request_id: int | None = None,
        request_outcome: dict[str, object] | None = None,
    ) -> ErasedFaces:
        """Erase faces everywhere at once: the store (with the images left without an
        accepted face, in one transaction with the suppression entry and the request's
        outcome), the index
        (codes compacted away, not left as tombstones), and facelens's own copies of images."""
        erased = self.store.erase_faces(
            face_ids, suppress=suppress, request_id=request_id, request_outcome=request_outcome
        )
        if suppress is not None:
            self._suppressed = None
        self.after_erasure(erased, compact=True)
        return erased

    def after_erasure(self, erased: ErasedFaces, *, compact: bool) -> None:
        """Bring everything derived from the store in line with a deletion it committed."""
        self.index.remove(erased.face_ids)
        self.forget_faces(erased.face_ids)
        if compact:
            self.index.compact()
        self._persist_index()
        self._remove_owned_files(erased.image_locations)
        self.store.checkpoint()
        # Ids only: never log images or embeddings.
        log.info(
            "deleted %d indexed faces: %s; %d images",
            len(erased.face_ids),
            erased.face_ids.tolist(),
            len(erased.image_ids),
        )

    def _remove_owned_files(self, locations: Sequence[str]) -> None:
        """Delete the files facelens itself keeps (uploads, fetched images) of deleted images,
        unless another image record still points at the same file. The operator's own files
        are theirs: they are never touched."""
        owned = [(self.settings.data_dir / name).resolve() for name in OWNED_FOLDERS]
        for location in locations:
            path = Path(location)
            if not any(path.is_relative_to(folder) for folder in owned):
                continue
            if self.store.location_in_use(location):
                continue
            path.unlink(missing_ok=True)
            parent = path.parent
            if parent not in owned and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()

    def withdraw_consent(self, consent_id: int, actor: str = SYSTEM_ACTOR) -> ErasedFaces:
        """Record the withdrawal and erase every face enrolled under the consent. (Should the
        process die in between, the next retention run erases them.)"""
        consent = self.store.consent(consent_id)  # NotFoundError when unknown
        if consent.withdrawn_at is None:
            self.store.update_consent(consent_id, withdrawn_at=datetime.now(UTC))
        erased = self.erase(self.store.consent_face_ids(consent_id))
        self.store.append_audit(
            actor,
            "consent withdraw",
            f"consent {consent_id}",
            {"face_ids": erased.face_ids.tolist(), "image_ids": erased.image_ids},
        )
        return erased
