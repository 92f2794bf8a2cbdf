"""What an ingest reports: counts, faces not indexed by reason and size band, failures."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from facelens.face_sizes import size_band


@dataclass(frozen=True, slots=True)
class IngestFailure:
    location: str
    error: str
    message: str


@dataclass(slots=True)
class IngestReport:
    """Sizes are the short side of a face's box in pixels, counted by the bands of
    ``facelens.face_sizes.SIZE_BANDS`` (only bands with a face appear)."""

    collection: str
    images_seen: int = 0
    images_ingested: int = 0
    duplicates_skipped: int = 0
    faces_indexed: int = 0
    faces_rejected: dict[str, int] = field(default_factory=dict)
    #: Faces indexed, by size band: ``{"40-64px": 2, ">=128px": 5}``.
    faces_indexed_by_size: dict[str, int] = field(default_factory=dict)
    #: Faces stored but not indexed, by reason, then size band: ``{"too_small": {"32-40px": 1}}``.
    faces_rejected_by_size: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Faces matching someone who opted out (the suppression list): neither stored nor indexed.
    faces_suppressed: int = 0
    failures: list[IngestFailure] = field(default_factory=list)
    #: URLs of a manifest that a collection rule refused to fetch, counted by rule.
    refusals: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def images_per_s(self) -> float:
        done = self.images_ingested + len(self.failures)
        return done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def count_face(self, size_px: int, rejection_reason: str | None) -> None:
        """Count one stored face: indexed (no reason) or rejected, in its size band."""
        band = size_band(size_px)
        if rejection_reason is None:
            self.faces_indexed += 1
            _add(self.faces_indexed_by_size, {band: 1})
        else:
            _add(self.faces_rejected, {rejection_reason: 1})
            _add(self.faces_rejected_by_size, {rejection_reason: {band: 1}})

    def merge(self, other: IngestReport) -> None:
        """Add ``other`` (a later part of the same ingest) to this report, field by field:
        counts add, counts by reason (and by reason and band) add, lists extend. Every field is
        handled by its type, so a field added later cannot be forgotten by a caller adding
        reports by hand."""
        if other.collection != self.collection:
            raise ValueError(f"cannot merge a report of {other.collection} into {self.collection}")
        for f in dataclasses.fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if f.name == "collection":
                continue
            if isinstance(mine, dict):
                _add(mine, theirs)
            elif isinstance(mine, list):
                mine.extend(theirs)
            else:
                setattr(self, f.name, mine + theirs)


def _add(counts: dict[str, Any], more: dict[str, Any]) -> None:
    """Add the counts of ``more`` into ``counts``; nested counts (by reason, then band) too."""
    for key, value in more.items():
        if isinstance(value, dict):
            _add(counts.setdefault(key, {}), value)
        else:
            counts[key] = counts.get(key, 0) + value
