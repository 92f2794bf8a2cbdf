"""Proposed persons: unassigned faces grouped by clustering, to accept or dismiss."""

from __future__ import annotations

from pydantic import Field

from facelens.api.schemas.common import IsoTime, Out


class ClusterSummaryOut(Out):
    collections: list[str] = Field(description="The collections clustered, each on its own.")
    faces_considered: int = Field(description="Unassigned faces in no proposal before the run.")
    clusters_proposed: int
    clusters_grown: int = Field(description="Proposals from before that took new faces.")
    faces_clustered: int
    faces_left_single: int = Field(description="Looked at again by the next run.")
    threshold: float
    floor_threshold: float
    cluster_ids: list[int] = Field(description="The proposals made or grown.")


class ProposalOut(Out):
    cluster_id: int
    collection: str
    status: str = Field(description="proposed or dismissed.")
    face_ids: list[int]
    created_at: IsoTime
    updated_at: IsoTime
