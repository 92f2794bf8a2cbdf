"""Evaluation: the metrics on scores with known answers, and ``facelens eval lfw`` end to end
on a small LFW-shaped folder of real LFW photos."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from facelens.cli.main import app
from facelens.evaluation import metrics
from facelens.evaluation.lfw import LfwDataset

runner = CliRunner()


# --- metrics -------------------------------------------------------------------------------


def test_given_perfectly_separated_scores_then_auc_one_and_eer_zero() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1])
    same = np.array([True, True, True, False, False, False])
    curve = metrics.roc(scores, same)
    assert metrics.auc(curve) == pytest.approx(1.0)
    assert metrics.eer(curve) == pytest.approx(0.0)
    point = metrics.tar_at_far(curve, 0.0)
    assert point.tar == 1.0 and point.far == 0.0 and point.threshold == pytest.approx(0.7)
    assert 0.3 < metrics.best_accuracy_threshold(scores, same) <= 0.7


def test_given_overlapping_scores_then_the_rates_count_what_they_should() -> None:
    # same: 0.9 0.6 0.4 ; different: 0.7 0.3 0.2 0.1
    scores = np.array([0.9, 0.6, 0.4, 0.7, 0.3, 0.2, 0.1])
    same = np.array([True, True, True, False, False, False, False])
    curve = metrics.roc(scores, same)
    assert curve.far.tolist() == [0, 0, 0.25, 0.25, 0.25, 0.5, 0.75, 1.0]
    assert curve.tar.tolist() == pytest.approx([0, 1 / 3, 1 / 3, 2 / 3, 1, 1, 1, 1])
    # 12 (same, different) score pairs: the same-person score is higher in 10 of them.
    assert metrics.auc(curve) == pytest.approx(10 / 12)
    assert metrics.eer(curve) == pytest.approx(0.25, abs=0.1)
    point = metrics.tar_at_far(curve, 0.25)
    assert point.threshold == pytest.approx(0.4) and point.tar == 1.0
    assert metrics.accuracy(scores, same, 0.5) == pytest.approx(5 / 7)


def test_given_folds_then_each_threshold_is_chosen_without_its_own_fold() -> None:
    scores = np.array([0.9, 0.1, 0.8, 0.2, 0.35, 0.45])
    same = np.array([True, False, True, False, True, False])
    folds = np.array([0, 0, 1, 1, 2, 2])
    folded = metrics.folded_accuracy(scores, same, folds)
    # Fold 2 is inverted: the threshold learnt on folds 0-1 (0.5, midway between the scores
    # 0.2 and 0.8 that separate them) calls both of its pairs "different": one right.
    assert folded.fold_thresholds[2] == pytest.approx(0.5)
    assert folded.fold_accuracies == [1.0, 1.0, 0.5]
    assert folded.mean == pytest.approx(2.5 / 3)
    assert folded.std == pytest.approx(np.std([1, 1, 0.5], ddof=1))


def test_given_searches_then_cmc_and_fnir_at_fpir_follow_the_definitions() -> None:
    ranks = np.array([1, 1, 2, 0, 5])
    assert metrics.cmc(ranks, 5).tolist() == [0.4, 0.6, 0.6, 0.6, 0.8]
    nonmated_top = np.array([0.95, 0.5, 0.4, 0.3] + [0.1] * 96)  # 100 searches
    mate_scores = np.array([0.99, 0.9, 0.6, -np.inf])
    point = metrics.fnir_at_fpir(nonmated_top, mate_scores, 0.01)
    assert point.fpir == pytest.approx(0.01)  # only the 0.95 search still returns a candidate
    assert 0.5 < point.threshold < 0.6  # just above the second-best non-mated score
    assert point.fnir == pytest.approx(0.25)  # only the mate missing from the list
    strict = metrics.fnir_at_fpir(nonmated_top, mate_scores, 0.0)
    assert strict.fpir == 0.0 and strict.threshold > 0.95 and strict.fnir == 0.75


def test_given_groups_then_rates_and_the_fmr_ratio() -> None:
    scores = np.array([0.9, 0.95, 0.5, 0.2, 0.95, 0.96, 0.1, 0.3])
    same = np.array([True, True, False, False, True, False, False, False])
    a = ["x", "x", "x", "x", "y", "y", "y", "x"]
    b = ["x", "x", "x", "x", "y", "y", "y", "y"]  # the last pair spans groups: counted in none
    rates = {r.group: r for r in metrics.group_rates(scores, same, a, b, threshold=0.4)}
    assert (rates["x"].genuine_pairs, rates["x"].impostor_pairs) == (2, 2)
    assert rates["x"].fmr == 0.5 and rates["x"].fnmr == 0.0
    assert rates["y"].fmr == 0.5 and rates["y"].fnmr == 0.0
    assert metrics.fmr_ratio(list(rates.values())) == 1.0
    zero = metrics.group_rates(scores, same, a, b, threshold=0.92)
    assert metrics.fmr_ratio(zero) is None  # group x has FMR 0: the ratio is unbounded


# --- end to end on real LFW photos ---------------------------------------------------------


@pytest.fixture(scope="module")
def mini_lfw(lfw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An LFW-shaped folder: 2 folds x (3 same + 3 different) pairs taken from the real
    pairs.txt, View 1 files of 4 pairs, and images/ linking only the people they name (plus
    two people with a single image, as 1:N distractors)."""
    root = tmp_path_factory.mktemp("mini-lfw")
    lines = (lfw / "pairs.txt").read_text().splitlines()[1:]
    per_fold = 600
    chosen = []
    for fold in range(2):
        block = lines[fold * per_fold : (fold + 1) * per_fold]
        chosen += block[:3] + block[300:303]
    (root / "pairs.txt").write_text("2\t3\n" + "\n".join(chosen) + "\n")
    view1 = chosen[:2] + chosen[3:5]
    for name in ("pairsDevTrain.txt", "pairsDevTest.txt"):
        (root / name).write_text("4\n" + "\n".join(view1) + "\n")
    people = set()
    for line in chosen:
        parts = line.split("\t")
        people.update([parts[0]] if len(parts) == 3 else [parts[0], parts[2]])
    people.update(["AJ_Cook", "AJ_Lamas"])  # one image each
    (root / "images").mkdir()
    for person in sorted(people):
        os.symlink(lfw / "images" / person, root / "images" / person)
    return root


def test_given_lfw_then_eval_writes_every_figure_plots_and_a_report(
    mini_lfw: Path, tmp_path: Path
) -> None:
    groups = tmp_path / "groups.csv"
    dataset = LfwDataset(mini_lfw)
    with groups.open("w") as handle:
        handle.write("image,group\n")
        for person in dataset.people():
            for image in sorted((mini_lfw / "images" / person).glob("*.jpg")):
                handle.write(f"{image.name},{'early' if person < 'B' else 'late'}\n")
    out = tmp_path / "out"
    cache = tmp_path / "cache.sqlite"
    args = [
        "eval",
        "lfw",
        "--root",
        str(mini_lfw),
        "--out",
        str(out),
        "--groups",
        str(groups),
        "--workers",
        "2",
        "--cache",
        str(cache),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "LFW View 2: mean accuracy" in result.stdout
    assert {p.name for p in out.iterdir()} >= {
        "results.json",
        "curves.json",
        "roc.png",
        "det.png",
        "cmc.png",
        "fairness.png",
        "report.html",
    }
    figures = json.loads((out / "results.json").read_text())
    v2 = figures["view2"]
    assert v2["pairs"] == 12 and v2["folds"] == 2 and len(v2["fold_accuracies"]) == 2
    errors = v2["errors"]
    assert errors["count"] == round(sum((1 - a) * 6 for a in v2["fold_accuracies"]))
    assert errors["count"] == len(errors["pairs"])
    assert errors["same_person_rejected"] + errors["different_people_accepted"] == errors["count"]
    assert 0.5 <= v2["mean_accuracy"] <= 1.0
    assert 0.5 <= v2["roc_auc"] <= 1.0
    assert [p["target_far"] for p in v2["tar_at_far"]] == [0.01, 0.001]
    pair_images = {i for p in dataset.pairs("pairs.txt") for i in (p.image_a, p.image_b)}
    assert v2["enrolment"]["images"] == len(pair_images)
    assert v2["enrolment"]["failure_to_enrol"] == len(v2["enrolment"]["failed_images"])
    assert figures["view1"]["train_pairs"] == 4
    ident = figures["identification"]
    split = ident["split"]
    singles = sum(1 for count in dataset.people().values() if count == 1)
    assert split["gallery_distractor_people"] == singles >= 2
    assert split["gallery_images"] == split["gallery_people_with_mates"] + singles
    assert 0.0 <= ident["rank_1"] <= ident["rank_5"] <= 1.0
    assert [p["target_fpir"] for p in ident["fnir_at_fpir"]] == [0.01, 0.003]
    rates = {r["group"]: r for r in figures["groups"]["rates"]}
    assert set(rates) == {"early", "late"}
    # The NIST-style block: over every image embedded (the 1:N protocol embeds them all).
    fair = figures["fairness"]
    assert fair["scores"] == "raw" and "failed to enrol" in fair["protocol"]
    images = sum(1 for _ in mini_lfw.glob("images/*/*.jpg"))
    assert fair["images"]["early"] + fair["images"]["late"] == images
    assert fair["images"]["unlabelled"] == 0
    one = fair["one_to_one"]
    assert {r["group"] for r in one["groups"]} == {"early", "late"}
    for r in one["groups"]:  # few images: every different-person pair within the group
        assert r["impostor_pairs"] == r["impostor_pairs_available"] > 0
    assert {"ratio", "highest", "lowest"} <= set(one["fmr_max_over_min"])
    assert one["cross_group"][0]["groups"] == ["early", "late"]
    searched = fair["one_to_many"]["groups"]
    assert sum(r["nonmated_probes"] for r in searched) == split["nonmated_probes"]
    assert sum(r["mated_probes"] for r in searched) == split["mated_probes"]
    assert "fpir_max_over_min" in fair["one_to_many"]
    targets = [p["overall_fpir_target"] for p in fair["one_to_many"]["at_thresholds"]]
    assert targets == [0.01, 0.003]
    curves = json.loads((out / "curves.json").read_text())
    assert set(curves["fairness"]["fmr"]) == {"early", "late"}
    assert "Error rates by group at threshold" in result.stdout
    assert figures["settings"]["detect_upsample_times"] == 1
    html = (out / "report.html").read_text()
    assert "roc.png" in html and "cmc.png" in html and "Open-set identification" in html
    assert "fairness.png" in html and "Error rates by group" in html

    # A rerun embeds nothing: every image comes from the cache.
    again = runner.invoke(app, [*args, "--protocol", "view2", "--json"])
    assert again.exit_code == 0, again.output
    rerun = json.loads(again.stdout)
    assert rerun["view2"]["mean_accuracy"] == v2["mean_accuracy"]
    assert rerun["timing_s"]["embed_view2"] < 5
    # View 2 alone: 1:1 over View 2's images, no 1:N.
    assert rerun["fairness"]["one_to_many"] is None
    assert sum(rerun["fairness"]["images"][g] for g in ("early", "late")) == len(pair_images)


def test_given_a_folder_that_is_not_lfw_then_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "lfw", "--root", str(tmp_path), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "does not look like LFW" in result.output
