"""The clustering part of the store contract: proposed persons, each a group of faces of one
collection, not yet named, and which faces are in one (a face is in at most one)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from facelens.store.records import ClusterRecord
from facelens.types import IdArray, ModelId

PROPOSED = "proposed"
DISMISSED = "dismissed"
CLUSTER_STATUSES = (PROPOSED, DISMISSED)


class ClusterStore(Protocol):
    """Proposed persons. A face leaves its cluster when it is deleted or given to a person; a
    cluster left with no face is deleted with it."""

    def add_clusters(self, collection: str, groups: Sequence[Sequence[int]]) -> list[int]:
        """Store each group of face ids as a new proposed cluster of ``collection``; returns
        their ids, in order. ``NotFoundError`` (nothing stored) for an unknown collection or
        face, ``InvalidArgumentError`` for a group of fewer than 2 faces, a face in another
        collection or a face given twice, ``ConflictError`` for a face already in a cluster
        or assigned to a person."""
        ...

    def add_to_cluster(self, cluster_id: int, face_ids: Sequence[int]) -> None:
        """Add faces to a cluster, under the same checks as ``add_clusters``;
        ``NotFoundError`` for an unknown cluster."""
        ...

    def clusters(
        self, collection: str | None = None, status: str | None = None
    ) -> list[ClusterRecord]:
        """The clusters (of one collection, with one status, or all), by id;
        ``NotFoundError`` for an unknown collection."""
        ...

    def cluster(self, cluster_id: int) -> ClusterRecord:
        """One cluster; ``NotFoundError`` when unknown."""
        ...

    def set_cluster_status(self, cluster_id: int, status: str) -> None:
        """Mark a cluster ``proposed`` or ``dismissed``; ``NotFoundError`` when unknown,
        ``InvalidArgumentError`` for another status."""
        ...

    def delete_cluster(self, cluster_id: int) -> None:
        """Delete a cluster and its memberships (never its faces); ``NotFoundError`` when
        unknown."""
        ...

    def unclustered_face_ids(self, collection: str, model: ModelId) -> IdArray:
        """Accepted faces of ``model`` in ``collection`` that are in no cluster and no
        person's, ascending (quarantined ones left out); ``NotFoundError`` for an unknown
        collection."""
        ...
