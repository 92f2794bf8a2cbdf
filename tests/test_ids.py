"""unique_ids: np.unique's answer for id arrays, by a sort."""

from __future__ import annotations

import numpy as np
import pytest

from facelens.ids import unique_ids


@pytest.mark.parametrize(
    "ids",
    [[], [7], [3, 3, 3], [1, 2, 5, 9], [5, -1, 5, 0, 2**40, -1], list(range(10, 0, -1)) * 2],
)
def test_given_ids_with_repeats_then_each_comes_once_in_order(ids: list[int]) -> None:
    got = unique_ids(ids)
    assert got.dtype == np.int64
    assert got.tolist() == sorted(set(ids))


def test_given_a_million_random_ids_then_the_answer_is_numpys() -> None:
    ids = np.random.default_rng(20261203).integers(0, 300_000, size=1_000_000)
    assert np.array_equal(unique_ids(ids), np.unique(ids))
