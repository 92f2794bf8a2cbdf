"""How a search decided which candidates are matches (``SearchResult.decision``)."""

from __future__ import annotations

from dataclasses import dataclass

#: The decision rules: a threshold measured on the gallery, or a fixed similarity threshold.
CALIBRATED = "calibrated"
FIXED = "fixed"


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
