"""Error rates by group (NISTIR 8280 style) on synthetic embeddings with known answers; the
end to end run through ``facelens eval lfw --groups`` is in test_evaluation.py."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from facelens.evaluation import fairness
from facelens.evaluation.embeddings import FACE, BenchmarkEmbedding


def _basis(k: int) -> np.ndarray:
    v = np.zeros(128, dtype=np.float32)
    v[k] = 1.0
    return v


def _known() -> tuple[np.ndarray, list[str], list[str | None]]:
    """Two groups of 4 people x 3 images; every image of a person has the same vector except
    where said. Group a: persons a1-a3 share one vector (3 of its 6 person pairs collide:
    FMR 1/2); a4's third image is unlike its other two (2 of a's 12 genuine pairs fail).
    Group b: b1, b2 share a vector (1 of 6 person pairs: FMR 1/6); b3 has a1-a3's vector
    (27 of the 144 cross-group pairs match). Two unlabelled images of a1's vector."""
    vectors = {"a1": 0, "a2": 0, "a3": 0, "a4": 1, "b1": 2, "b2": 2, "b3": 0, "b4": 3}
    rows, people = [], []
    groups: list[str | None] = []
    for person, k in vectors.items():
        for n in range(3):
            rows.append(_basis(20 if person == "a4" and n == 2 else k))
            people.append(person)
            groups.append(person[0])
    for _ in range(2):
        rows.append(_basis(0))
        people.append("u1")
        groups.append(None)
    return np.stack(rows), people, groups


def test_given_one_group_with_more_alike_impostors_then_its_fmr_and_the_ratio() -> None:
    embeddings, people, groups = _known()
    rates = fairness.one_to_one(embeddings, people, groups, 0.9, impostor_count=1000)
    by = {r["group"]: r for r in rates["groups"]}
    assert set(by) == {"a", "b"}  # the unlabelled images are in no group
    a, b = by["a"], by["b"]
    # 12 images: 66 pairs, 12 of them genuine; asked for more than there are: all 54 used.
    assert (a["impostor_pairs"], a["impostor_pairs_available"], a["genuine_pairs"]) == (54, 54, 12)
    assert a["false_matches"] == 27 and a["fmr"] == pytest.approx(0.5)
    assert b["false_matches"] == 9 and b["fmr"] == pytest.approx(1 / 6)
    assert a["false_non_matches"] == 2 and a["fnmr"] == pytest.approx(1 / 6)
    assert b["fnmr"] == 0.0
    assert rates["fmr_max_over_min"] == {"ratio": 3.0, "highest": "a", "lowest": "b"}
    # b's FNMR is zero: the FNMR ratio is unbounded, so none is given.
    assert rates["fnmr_max_over_min"]["ratio"] is None
    [cross] = rates["cross_group"]
    assert cross["groups"] == ["a", "b"] and cross["impostor_pairs"] == 144
    assert cross["fmr"] == pytest.approx(27 / 144)
    # The curves: FMR falls from all impostor pairs to the colliding ones at the top.
    curves = rates["curves"]
    assert len(curves["thresholds"]) == fairness.CURVE_POINTS
    assert curves["fmr"]["a"][-1] == pytest.approx(0.5)  # threshold 1.0: still matching
    assert curves["fmr"]["b"][0] >= curves["fmr"]["b"][-1]
    at = {p["threshold"]: p for p in rates["at_thresholds"]}
    assert set(at) == {0.88, 0.89, 0.9, 0.91, 0.92}
    assert at[0.9]["fmr"] == {"a": a["fmr"], "b": b["fmr"]} and at[0.9]["fmr_max_over_min"] == 3.0
    # Pooled, 36 of the 108 impostor scores are 1.0: FMR 1e-3 lets none through; 0.4 does.
    rates = fairness.one_to_one(
        embeddings, people, groups, 0.9, impostor_count=1000, fmr_targets=(1e-3, 0.4)
    )
    strict, lenient = rates["at_pooled_fmr"]
    assert strict["pooled_fmr_target"] == 1e-3 and strict["fmr"] == {"a": 0.0, "b": 0.0}
    assert lenient["fmr"] == {"a": 0.5, "b": pytest.approx(1 / 6)} and lenient["threshold"] < 1


def test_given_sampling_then_the_pairs_asked_for_distinct_different_people_in_the_group() -> None:
    rng = np.random.default_rng(3)
    people = rng.integers(0, 40, size=300)
    members = np.flatnonzero(people % 3 != 0).astype(np.int64)  # a group: 2/3 of the images
    space = fairness._within(members)
    gi, _ = fairness.genuine_pairs(members, people)
    available = space[0] - len(gi)
    i, j = fairness.impostor_pairs(space, available, people, 10_000, rng)
    assert len(i) == 10_000 < available
    assert np.all(people[i] != people[j])
    assert set(i.tolist()) | set(j.tolist()) <= set(members.tolist())
    unordered = {(min(x, y), max(x, y)) for x, y in zip(i.tolist(), j.tolist(), strict=True)}
    assert len(unordered) == 10_000 and all(x != y for x, y in unordered)
    # Asked for more than there are: every different-person pair, once.
    i, j = fairness.impostor_pairs(space, available, people, available + 1, rng)
    everyone = {
        (min(x, y), max(x, y))
        for x, y in combinations(members.tolist(), 2)
        if people[x] != people[y]
    }
    assert len(i) == available == len(everyone)
    assert {(min(x, y), max(x, y)) for x, y in zip(i.tolist(), j.tolist(), strict=True)} == everyone


def test_given_a_sample_then_its_fmr_estimates_the_exhaustive_one() -> None:
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(60, 128))
    people = rng.integers(0, 60, size=400)
    embeddings = centres[people] + rng.normal(scale=1.2, size=(400, 128))
    embeddings = (embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)).astype(np.float32)
    names, groups = [str(p) for p in people], ["g"] * 400

    def rates(count: int) -> dict[str, Any]:
        block = fairness.one_to_one(embeddings, names, groups, 0.12, impostor_count=count, seed=1)
        row: dict[str, Any] = block["groups"][0]
        return row

    full, sampled = rates(10**6), rates(20_000)
    assert sampled["impostor_pairs"] == 20_000 < full["impostor_pairs"]
    assert sampled["genuine_pairs"] == full["genuine_pairs"]  # genuine pairs: always all
    sigma = np.sqrt(full["fmr"] * (1 - full["fmr"]) / 20_000)
    assert 0.01 < full["fmr"] < 0.5
    assert abs(sampled["fmr"] - full["fmr"]) < 4 * sigma


def test_given_people_then_every_genuine_pair_once_as_by_brute_force() -> None:
    rng = np.random.default_rng(7)
    people = rng.integers(0, 6, size=40)
    members = np.flatnonzero(rng.random(40) < 0.7).astype(np.int64)
    i, j = fairness.genuine_pairs(members, people)
    found = sorted((min(x, y), max(x, y)) for x, y in zip(i.tolist(), j.tolist(), strict=True))
    brute = sorted(
        (x, y) for x, y in combinations(sorted(members.tolist()), 2) if people[x] == people[y]
    )
    assert found == brute and len(brute) > 20


def test_given_a_scorer_then_it_scores_every_pair() -> None:
    embeddings, people, groups = _known()
    seen: list[tuple[int, int]] = []

    def scorer(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        seen.extend(zip(i.tolist(), j.tolist(), strict=True))
        return np.where(np.asarray(people)[i] == np.asarray(people)[j], 0.0, 1.0)

    rates = fairness.one_to_one(embeddings, people, groups, 0.5, impostor_count=1000, scorer=scorer)
    by = {r["group"]: r for r in rates["groups"]}
    # The scorer inverts the embeddings' answer: every impostor matches, no genuine pair.
    assert by["a"]["fmr"] == 1.0 and by["a"]["fnmr"] == 1.0 and by["b"]["fmr"] == 1.0
    assert len(seen) == 2 * (54 + 12) + 144
    # Through the evaluation's entry point: indices into the images sorted by path.
    paths = [f"images/{p}/{p}_{n % 3 + 1:04d}.jpg" for n, p in enumerate(people)]
    vectors = {p: BenchmarkEmbedding(v, FACE, 1) for p, v in zip(paths, embeddings, strict=True)}
    labels = {Path(p).name: g for p, g in zip(paths, groups, strict=True) if g is not None}
    order = sorted(paths)
    people = [Path(p).parent.name for p in order]  # what the scorer above looks up
    block = fairness.of_embeddings(
        vectors, labels, 0.5, impostor_count=1000, scorer=scorer, scores="as-norm"
    )
    assert block["scores"] == "as-norm" and "curves" not in block["one_to_one"]
    assert block["one_to_many"] is None and block["images"] == {
        "a": 12,
        "b": 12,
        "unlabelled": 2,
        "failure_to_enrol": {"a": 0, "b": 0},
    }
    assert [r["fmr"] for r in block["one_to_one"]["groups"]] == [1.0, 1.0]
    assert block["curves"]["fmr"]["a"][0] == 1.0


def test_given_searches_then_fpir_and_fnir_per_group_of_the_probe() -> None:
    nonmated = np.array([0.95, 0.5, 0.1, 0.1, 0.99, 0.97, 0.2, 0.1])
    nonmated_groups = ["x", "x", "x", "x", "y", "y", "y", None]
    mates = np.array([0.99, -np.inf, 0.95, 0.96, 0.2])
    mated_groups = ["x", "x", "y", "y", "y"]
    rates = fairness.one_to_many(nonmated, nonmated_groups, mates, mated_groups, [0.9, 0.98])
    by = {r["group"]: r for r in rates["groups"]}
    assert by["x"]["nonmated_probes"] == 4 and by["x"]["fpir"] == 0.25
    assert by["y"]["nonmated_probes"] == 3 and by["y"]["fpir"] == pytest.approx(2 / 3)
    assert by["x"]["fnir"] == 0.5 and by["y"]["fnir"] == pytest.approx(1 / 3)
    assert rates["fpir_max_over_min"]["highest"] == "y"
    assert rates["fpir_max_over_min"]["ratio"] == pytest.approx(round(8 / 3, 4))
    [stricter] = rates["at_thresholds"]
    assert stricter["threshold"] == 0.98 and stricter["fpir_max_over_min"]["ratio"] is None
