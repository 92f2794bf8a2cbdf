"""The settings of normalised scores and calibrated decisions (``facelens.scoring``), part of
``facelens.config.Settings`` (set them there, or as ``FACELENS_<NAME>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ScoringSettings(BaseModel):
    """How searches score and decide; chosen on LFW (docs/accuracy.md, "Normalised scores")."""

    score_normalisation: Literal["cohort_mean", "as_norm", "none"] = Field(
        default="cohort_mean",
        description="Scores searches decide on: cohort_mean (the similarity less "
        "score_cohort_weight times the mean of both faces' best scores against a cohort "
        "sampled from the gallery), as_norm (standardised by both sides' cohort scores) or "
        "none (raw similarity). Needs score_min_gallery_faces.",
    )
    score_cohort_size: int = Field(
        default=5000, ge=10, description="Gallery faces sampled (seeded) into the cohort."
    )
    score_cohort_top_k: int = Field(
        default=50, ge=1, description="Best cohort scores each face's statistics use."
    )
    score_cohort_max_similarity: float = Field(
        default=0.96,
        ge=-1.0,
        le=1.0,
        description="Cohort scores at or above this are left out of a face's statistics: most "
        "likely its own person's other photos, not strangers (faces assigned to its person "
        "are left out whatever their score).",
    )
    score_cohort_weight: float = Field(
        default=0.5,
        ge=0.0,
        le=2.0,
        description="Share of the two faces' cohort means cohort_mean takes off a similarity.",
    )
    score_shortlist: int = Field(
        default=200,
        ge=1,
        le=10_000,
        description="Candidates taken from the index by raw similarity and re-ranked by the "
        "normalised score.",
    )
    score_min_gallery_faces: int = Field(
        default=1000,
        ge=2,
        description="Smallest gallery normalised and calibrated; below it searches decide on "
        "raw similarity against match_threshold (too few faces to measure strangers on).",
    )
    search_target_fpir: float = Field(
        default=0.01,
        gt=0.0,
        lt=1.0,
        description="False-positive identification rate the calibrated threshold holds: the "
        "share of searches for someone not in the gallery that return a match.",
    )
    calibration_sample_faces: int = Field(
        default=2000,
        ge=100,
        description="Gallery faces (seeded) searched against the rest to calibrate.",
    )
    search_decision: Literal["calibrated", "fixed"] = Field(
        default="calibrated",
        description="What makes a candidate a match when no threshold is given: the "
        "calibrated threshold for search_target_fpir (when the gallery is calibrated) or "
        "match_threshold on raw similarity.",
    )
