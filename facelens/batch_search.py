"""What a batch search reports: one outcome per probe photo (its search, or why it has none),
and the counts over the batch."""

from __future__ import annotations

from dataclasses import dataclass

from facelens.errors import NoFaceFoundError
from facelens.types import SearchResult


@dataclass(frozen=True, slots=True)
class ProbeError:
    """Why a probe has no search: ``code`` is the error's stable code (``FacelensError.code``,
    or ``internal_error``), ``message`` says what to do about it."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """One probe of a batch: ``result`` when it was searched (and logged), else ``error``."""

    #: The path as given, or as found under a folder given.
    probe: str
    result: SearchResult | None = None
    error: ProbeError | None = None

    def __post_init__(self) -> None:
        if (self.result is None) == (self.error is None):
            raise ValueError("a probe outcome has a result or an error, not both or neither")

    @property
    def no_face(self) -> bool:
        """Read, but without a usable face: nothing to search with (not a failure to read)."""
        return self.error is not None and self.error.code == NoFaceFoundError.code


@dataclass(slots=True)
class BatchSearchSummary:
    """Counts over a batch: every probe is searched, without a usable face, or failed (could
    not be read, or refused)."""

    probes: int = 0
    searched: int = 0
    #: Searched probes with at least one gallery face at or above the threshold.
    with_match: int = 0
    no_face: int = 0
    failed: int = 0

    def count(self, outcome: ProbeOutcome) -> None:
        self.probes += 1
        if outcome.result is not None:
            self.searched += 1
            matched = any(m.is_match for f in outcome.result.faces for m in f.matches)
            self.with_match += matched
        elif outcome.no_face:
            self.no_face += 1
        else:
            self.failed += 1
