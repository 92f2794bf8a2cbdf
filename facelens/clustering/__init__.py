"""Clustering unknown faces into proposed people: the algorithm (``linkage``) and what a run
reports (``ClusterSummary``). The engine part is ``facelens.engine.clustering``; the score
against true identities (BCubed) is ``facelens.evaluation.clustering``."""

from __future__ import annotations

from dataclasses import dataclass

from facelens.store.records import ClusterRecord


@dataclass(frozen=True, slots=True)
class ClusterSummary:
    """What one clustering run did, over the collections it looked at. Faces already a
    person's, or already in a proposal, are not looked at again."""

    collections: list[str]
    faces_considered: int  # unassigned faces in no proposal before the run
    clusters_proposed: int  # new proposals
    clusters_grown: int  # proposals from before that took new faces
    faces_clustered: int  # faces put in a proposal by this run (new or from before)
    faces_left_single: int  # alike no other face enough: looked at again by the next run
    threshold: float
    floor_threshold: float
    cluster_ids: list[int]  # the proposals made or grown, ascending


__all__ = ["ClusterRecord", "ClusterSummary"]
