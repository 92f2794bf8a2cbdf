"""The calibrated rule a subject request's candidates are found with.

A stored face is a candidate when its similarity to the requester's fused template reaches a
threshold chosen, for the gallery's current size, so that the expected number of strangers
proposed stays at ``subject_request_false_candidates``. The false match rates come from a
table measured on LFW (``facelens/data/subject_match_fmr.json``, made by
``bench/subject_requests.py``; the worse gender group at each threshold).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from facelens.config import Settings
from facelens.pipeline.embed.base import fused_template
from facelens.types import FloatArray


@dataclass(frozen=True, slots=True)
class MatchTable:
    """False match rate by threshold on impostor pairs (the worse group at each threshold).
    ``fmr`` is measured where at least ``reliable_matches`` impostor pairs reach the
    threshold, and beyond that extrapolated along the log-linear tail of the measured part
    (a handful of pairs says little, and none says only "below 1 in the pairs tried")."""

    thresholds: tuple[float, ...]
    fmr: tuple[float, ...]
    measured: tuple[bool, ...]
    impostor_pairs: int
    source: str

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> MatchTable:
        thresholds = tuple(float(t) for t in body["thresholds"])
        fmr = tuple(float(f) for f in body.get("fmr_model", body["fmr"]))
        measured = tuple(bool(m) for m in body.get("measured", [True] * len(fmr)))
        if not len(thresholds) == len(fmr) == len(measured) or list(thresholds) != sorted(
            thresholds
        ):
            raise ValueError("a match table needs ascending thresholds, one FMR each")
        return cls(thresholds, fmr, measured, int(body["impostor_pairs"]), str(body["source"]))


@cache
def shipped_match_table() -> MatchTable:
    text = resources.files("facelens").joinpath("data/subject_match_fmr.json").read_text()
    return MatchTable.from_json(json.loads(text))


@dataclass(frozen=True, slots=True)
class MatchRule:
    """The threshold a request's candidates are found with, and what it costs in strangers."""

    threshold: float
    gallery_faces: int
    photos: int
    expected_false_candidates: float
    fmr_measured: bool  # False: the FMR at this threshold is the table's extrapolation
    basis: str


def calibrated_rule(
    table: MatchTable, gallery_faces: int, photos: int, settings: Settings
) -> MatchRule:
    """The lowest tabled threshold in [``subject_request_min_threshold``,
    ``subject_request_max_threshold``] at which comparing the fused template with
    ``gallery_faces`` faces is expected to propose at most ``subject_request_false_candidates``
    strangers. (The table holds single-photo impostor pairs; a fused template of several
    photos scores strangers lower, so the count is conservative for it.) Where no
    threshold in the range does (a very large gallery), the highest one: stricter would miss
    the requester's own faces, and the admin's review, told how many strangers to expect,
    stands between a candidate and any disclosure."""
    comparisons = max(1, gallery_faces)
    target = settings.subject_request_false_candidates
    allowed = [
        i
        for i, t in enumerate(table.thresholds)
        if settings.subject_request_min_threshold <= t <= settings.subject_request_max_threshold
    ]
    if not allowed:
        raise ValueError("no tabled threshold lies between the subject request min and max")
    chosen = next((i for i in allowed if comparisons * table.fmr[i] <= target), allowed[-1])
    return MatchRule(
        threshold=table.thresholds[chosen],
        gallery_faces=gallery_faces,
        photos=photos,
        expected_false_candidates=comparisons * table.fmr[chosen],
        fmr_measured=table.measured[chosen],
        basis=f"{table.source}; {table.impostor_pairs:,} impostor pairs",
    )


def candidate_scores(vectors: FloatArray, templates: FloatArray) -> FloatArray:
    """Each stored face's similarity to the requester's fused template: (n,)."""
    return np.asarray(vectors @ fused_template(templates), dtype=np.float32)
