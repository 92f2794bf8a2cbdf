"""Clustering unassigned faces into proposed persons, incrementally, and accepting or
dismissing the proposals.

A run looks at each collection's accepted faces that are no person's and in no proposal
(``facelens.clustering.linkage``): they join a proposal from before when they fit it, or form
new ones; proposals from before keep their ids and faces. Faces are never linked across
collections: each has its own legal basis and purpose. Dismissed proposals stay, and take the
faces that fit them, so the same group is not proposed again. Faces that match a named person
are not proposed for them (search by person finds those).
"""

from __future__ import annotations

import numpy as np

from facelens.clustering import ClusterSummary
from facelens.clustering.linkage import group_faces
from facelens.engine.persons import Persons
from facelens.engine.state import ProgressCallback
from facelens.store.contract.clusters import DISMISSED, PROPOSED
from facelens.store.records import ClusterRecord
from facelens.types import Caller, FloatArray, IdArray, Person

CLUSTER_AUDIT_ACTION = "people cluster"
ACCEPT_AUDIT_ACTION = "people accept"
DISMISS_AUDIT_ACTION = "people dismiss"


class Clustering(Persons):
    """Proposed persons: made by ``cluster_faces``, named by ``accept_proposal``."""

    def cluster_faces(
        self,
        collection: str | None = None,
        *,
        caller: Caller | None = None,
        progress: ProgressCallback | None = None,
    ) -> ClusterSummary:
        """Group the unassigned faces of ``collection`` (or of every collection, each on its
        own) into proposed persons; audited with the counts (never an embedding).
        ``progress(done, total)`` counts the faces looked at."""
        caller = caller or Caller.python()
        names = [collection] if collection is not None else self.store.collection_names()
        todo = {name: self.store.unclustered_face_ids(name, self.model) for name in names}
        total = sum(len(ids) for ids in todo.values())
        done = proposed = clustered = single = 0
        touched: set[int] = set()
        grown: set[int] = set()
        if progress:
            progress(0, total)
        for name in names:
            made, joined, placed, alone = self._cluster_collection(name, todo[name])
            proposed += len(made)
            clustered += placed
            single += alone
            touched |= set(made) | joined
            grown |= joined
            done += len(todo[name])
            if progress:
                progress(done, total)
        summary = ClusterSummary(
            collections=names,
            faces_considered=total,
            clusters_proposed=proposed,
            clusters_grown=len(grown),
            faces_clustered=clustered,
            faces_left_single=single,
            threshold=self.settings.cluster_threshold,
            floor_threshold=self.settings.cluster_floor_threshold,
            cluster_ids=sorted(touched),
        )
        self.audit(
            caller,
            CLUSTER_AUDIT_ACTION,
            f"collection {collection}" if collection is not None else "every collection",
            {
                "faces_considered": total,
                "clusters_proposed": proposed,
                "clusters_grown": len(grown),
                "faces_clustered": summary.faces_clustered,
                "faces_left_single": single,
                "cluster_ids": summary.cluster_ids,
            },
        )
        return summary

    def _cluster_collection(
        self, name: str, new_ids: IdArray
    ) -> tuple[list[int], set[int], int, int]:
        """Cluster one collection's new faces; returns the new proposals' ids, the ids of
        those from before that took faces, how many faces went into a proposal and how many
        were left single."""
        if not len(new_ids):
            return [], set(), 0, 0
        existing = self.store.clusters(name)
        member_ids = [f for c in existing for f in c.face_ids]
        vectors = self._vectors([int(i) for i in new_ids] + member_ids)
        fixed: list[FloatArray] = []
        fixed_ids: list[int] = []
        for record in existing:
            found = [vectors[f] for f in record.face_ids if f in vectors]
            if found:  # a proposal whose templates do not open (quarantined) takes no face
                fixed.append(np.stack(found))
                fixed_ids.append(record.cluster_id)
        new = [int(i) for i in new_ids if int(i) in vectors]  # a template may not open
        if not new:
            return [], set(), 0, 0
        grouping = group_faces(
            np.stack([vectors[i] for i in new]),
            fixed,
            threshold=self.settings.cluster_threshold,
            floor=self.settings.cluster_floor_threshold,
        )
        for j, rows in grouping.joined.items():
            self.store.add_to_cluster(fixed_ids[j], [new[r] for r in rows])
        made = self.store.add_clusters(name, [[new[r] for r in g] for g in grouping.formed])
        placed = len(new) - len(grouping.single)
        return made, {fixed_ids[j] for j in grouping.joined}, placed, len(grouping.single)

    def _vectors(self, face_ids: list[int]) -> dict[int, FloatArray]:
        found: dict[int, FloatArray] = {}
        for ids, batch in self.store.embeddings(self.model, face_ids=face_ids):
            found.update(zip((int(i) for i in ids), batch, strict=True))
        return found

    def proposals(
        self, collection: str | None = None, *, status: str | None = PROPOSED
    ) -> list[ClusterRecord]:
        """The proposed persons (of one collection, or all), by id; ``status=None`` lists
        the dismissed ones too."""
        return self.store.clusters(collection, status)

    def accept_proposal(
        self, cluster_id: int, name: str, *, caller: Caller | None = None
    ) -> Person:
        """Make the proposal's faces the person ``name``'s (created if there is none; an
        existing person of that name takes them); the proposal goes. Audited by ids."""
        record = self.store.cluster(cluster_id)
        person = self.assign(name, record.face_ids)  # takes them out of the proposal
        self.audit(
            caller or Caller.python(),
            ACCEPT_AUDIT_ACTION,
            f"person {person.id}",  # by id: the name is sealed in the store
            {"cluster_id": cluster_id, "face_ids": record.face_ids},
        )
        return person

    def dismiss_proposal(self, cluster_id: int, *, caller: Caller | None = None) -> ClusterRecord:
        """Mark the proposal dismissed: it is no longer listed, and faces that fit it later
        join it rather than being proposed again."""
        self.store.set_cluster_status(cluster_id, DISMISSED)
        self.audit(caller or Caller.python(), DISMISS_AUDIT_ACTION, f"cluster {cluster_id}", {})
        return self.store.cluster(cluster_id)
