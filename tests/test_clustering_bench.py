"""bench/clustering.py on a few real LFW people, read in place and skipped when LFW is absent:
every method is scored on both parts and the JSON says whether the target is met."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import clustering as bench


def test_given_a_few_lfw_people_then_the_bench_scores_every_method_on_both_parts(
    lfw: Path, tmp_path: Path
) -> None:
    out = tmp_path / "clustering.json"
    args = ["--lfw", str(lfw), "--cache", str(tmp_path / "cache.sqlite"), "--out", str(out)]
    code = bench.main(
        [*args, "--max-people", "8", "--seed", "3", "--repeats", "1", "--norm-sample", "3"]
    )
    assert code == 0
    result = json.loads(out.read_text())
    assert {row["method"] for row in result["rows"]} >= {
        "facelens",
        "dlib chinese_whispers, 0.5 raw",
        "sklearn DBSCAN, best eps on development",
    }
    for row in result["rows"]:
        for part in ("development", "held_out"):
            scores = row[part]
            assert 0 < scores["precision"] <= 1 and 0 < scores["recall"] <= 1
            assert scores["time_s_median"] >= 0
    assert 1.0 < result["dlib_raw_descriptor_norm_median"] < 2.0
    assert set(result["target"]) >= {"precision_at_least_0.98", "f_3_points_over_best_baseline"}


def test_given_too_few_people_for_both_parts_then_the_bench_says_so(
    lfw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "clustering.json"
    args = ["--lfw", str(lfw), "--cache", str(tmp_path / "cache.sqlite"), "--out", str(out)]
    assert bench.main([*args, "--max-people", "1", "--norm-sample", "1"]) == 2
    assert "take more --max-people" in capsys.readouterr().err
