"""bench/person_fusion.py's arithmetic on small arrays: its vectorised fusion is the engine's
(``facelens.person_fusion.fuse``), and each row's figures come from the candidates as the
engine ranks them (persons fused, unassigned faces alone)."""

from __future__ import annotations

import numpy as np
import pytest

from bench import person_fusion as bench
from facelens.person_fusion import fuse


def test_given_random_scores_then_the_vectorised_fusion_is_the_engines() -> None:
    rng = np.random.default_rng(0)
    sims = rng.uniform(0.5, 1.0, size=(4, 6, 5))
    weights = rng.uniform(0.1, 1.0, size=(6, 5))
    bench._check_fusion(sims, weights)
    fast = bench.person_scores(sims, weights, "quality_mean")
    assert fast[1, 2] == pytest.approx(fuse(sims[1, 2], weights[2], "quality_mean")[0])


def test_given_a_tiny_gallery_then_per_person_lists_each_person_once() -> None:
    # Gallery columns: person 0's references (0, 1), person 1's (2, 3), one unassigned face (4).
    refs = np.array([[0, 1], [2, 3]])
    weights = np.ones((2, 2))
    mated = np.array([[0.97, 0.90, 0.95, 0.94, 0.80]])  # a probe of person 0
    nonmated = np.array([[0.94, 0.93, 0.70, 0.60, 0.95], [0.5, 0.5, 0.5, 0.5, 0.5]])
    args = (mated, np.array([0]), nonmated, refs, weights, 1, 0.93)
    face = bench.measure(*args, "face")
    best = bench.measure(*args, "max")
    mean = bench.measure(*args, "quality_mean")
    assert face["rank1"] == best["rank1"] == 1.0 and mean["rank1"] == 0.0  # 0.935 < 0.945
    # The first stranger shows faces 0, 1 and 4 face by face; person 0 and face 4 per person.
    assert face["false_candidates_per_nonmated_search"] == 1.5
    assert best["false_candidates_per_nonmated_search"] == 1.0
    assert face["false_enrolled_per_nonmated_search"] == 1.0
    assert best["false_enrolled_per_nonmated_search"] == 0.5
    assert best["fpir_at_threshold"] == best["fpir_enrolled_at_threshold"] == 0.5
    assert mean["fpir_enrolled_at_threshold"] == 0.5 and mean["fnir_at_threshold"] == 0.0
