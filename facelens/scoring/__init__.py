"""Scores beyond raw similarity: normalisation against a cohort, calibrated thresholds."""
