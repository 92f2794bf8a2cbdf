"""How a search decided which candidates are matches (``SearchResult.decision``)."""

from __future__ import annotations

from dataclasses import dataclass

from facelens.config import DEFAULT_MATCH_THRESHOLD

#: The decision rules: a threshold measured on the gallery, or a fixed similarity threshold.
CALIBRATED = "calibrated"
FIXED = "fixed"

#: The false match rate per comparison at the engine's default threshold (0.93), measured on
#: LFW View 2: 1 of its 3,000 different-person pairs reached it (docs/accuracy.md). Only that
#: threshold was measured: any other has no published rate.
LFW_FMR_AT_DEFAULT_THRESHOLD = 1 / 3000


def measured_fmr(threshold: float) -> float | None:
    """The published false match rate at ``threshold``, or None where none was measured."""
    return LFW_FMR_AT_DEFAULT_THRESHOLD if threshold == DEFAULT_MATCH_THRESHOLD else None


@dataclass(frozen=True, slots=True)
class SearchDecision:
    """The rule that made candidates matches, and what it costs in strangers.

    ``rule``: "calibrated" (the threshold measured on this gallery to hold ``target_fpir``)
    or "fixed" (a similarity threshold: given, or ``match_threshold``). ``scores``: what the
    threshold compares, "as_norm" (normalised scores) or "raw" (cosine similarity).
    ``estimated_fpir`` and ``expected_false_candidates``: the share of searches for someone
    absent that return a match, and the strangers a search returns at the threshold, as the
    gallery's calibration measured them (None without a calibration)."""

    rule: str
    scores: str
    threshold: float
    target_fpir: float | None
    estimated_fpir: float | None
    expected_false_candidates: float | None
    gallery_faces: int
    calibrated_gallery_faces: int | None
    calibration_stale: bool
    #: The false match rate per 1:1 comparison at a fixed threshold, where it was measured
    #: (``measured_fmr``); None for a calibrated rule or an unmeasured threshold.
    measured_fmr: float | None = None
