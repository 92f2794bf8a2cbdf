"""What an ingest reports: counts, faces not indexed by reason, failures."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class IngestFailure:
    location: str
    error: str
    message: str


@dataclass(slots=True)
class IngestReport:
    collection: str
    images_seen: int = 0
    images_ingested: int = 0
    duplicates_skipped: int = 0
    faces_indexed: int = 0
    faces_rejected: dict[str, int] = field(default_factory=dict)
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

    def merge(self, other: IngestReport) -> None:
        """Add ``other`` (a later part of the same ingest) to this report, field by field:
        counts add, counts by reason add, lists extend. Every field is handled by its type,
        so a field added later cannot be forgotten by a caller adding reports by hand."""
        if other.collection != self.collection:
            raise ValueError(f"cannot merge a report of {other.collection} into {self.collection}")
        for f in dataclasses.fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if f.name == "collection":
                continue
            if isinstance(mine, dict):
                for key, count in theirs.items():
                    mine[key] = mine.get(key, 0) + count
            elif isinstance(mine, list):
                mine.extend(theirs)
            else:
                setattr(self, f.name, mine + theirs)
