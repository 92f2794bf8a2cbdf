"""The summary ``facelens eval lfw`` prints: verification, identification (raw and
normalised) and the error rates by group."""

from __future__ import annotations

from typing import Any

from facelens.cli.render import out
from facelens.cli.render_fairness import print_fairness_summary


def print_eval_summary(figures: dict[str, Any]) -> None:
    if "view2" in figures:
        v2 = figures["view2"]
        out.print(
            f"LFW View 2: mean accuracy {v2['mean_accuracy']:.4%} ± {v2['std_accuracy']:.4%} "
            f"(std over {v2['folds']} folds), AUC {v2['roc_auc']:.5f}, EER {v2['eer']:.4%}",
            highlight=False,
        )
        for p in v2["tar_at_far"]:
            out.print(
                f"  TAR @ FAR={p['target_far']:g}: {p['tar']:.4%} (threshold {p['threshold']:.4f})",
                highlight=False,
            )
        e = v2["enrolment"]
        out.print(
            f"  failure to enrol: {e['failure_to_enrol']} of {e['images']} images "
            f"({e['no_face_detected']} with no face detected); {e['pairs_with_a_failed_image']} "
            "pairs involve one, all scored",
            highlight=False,
        )
        errors = v2["errors"]
        out.print(
            f"  misclassified pairs: {errors['count']} ({errors['same_person_rejected']} "
            f"same-person rejected, {errors['with_a_failed_enrolment']} involve a failed "
            "enrolment)",
            highlight=False,
        )
    if "view1" in figures:
        v1 = figures["view1"]
        out.print(
            f"LFW View 1: threshold at FMR 1e-3 on train {v1['threshold_at_fmr_1e-3']}; on test "
            f"FMR {v1['threshold_at_fmr_1e-3_on_test']['fmr']}, "
            f"FNMR {v1['threshold_at_fmr_1e-3_on_test']['fnmr']}",
            highlight=False,
        )
    if "identification" in figures:
        ident = figures["identification"]
        out.print(
            f"1:N identification: rank-1 {ident['rank_1']:.4%}, rank-5 {ident['rank_5']:.4%} "
            f"({ident['split']['mated_probes']} mated, {ident['split']['nonmated_probes']} "
            f"non-mated probes, gallery {ident['split']['gallery_images']})",
            highlight=False,
        )
        _print_fnir(ident["fnir_at_fpir"], "  ")
        if "normalised" in ident:
            norm = ident["normalised"]
            out.print(
                f"  normalised ({norm['method']}, cohort {norm['cohort_size']}, top-"
                f"{norm['top_k']}): rank-1 {norm['rank_1']:.4%}, rank-5 {norm['rank_5']:.4%}",
                highlight=False,
            )
            _print_fnir(norm["fnir_at_fpir"], "    ")
    if "groups" in figures:
        g = figures["groups"]
        for r in g["rates"]:
            out.print(f"  group {r['group']}: FMR {r['fmr']}, FNMR {r['fnmr']}", highlight=False)
        out.print(f"  highest/lowest group FMR: {g['fmr_max_over_min']}", highlight=False)
    for key in ("fairness", "fairness_normalised"):
        if key in figures:
            print_fairness_summary(out, figures[key])
    out.print(
        f"took {figures['elapsed_s']} s ({figures['images_embedded']} images embedded, "
        f"{figures['images_from_cache']} from the cache)",
        highlight=False,
    )


def _print_fnir(points: list[dict[str, Any]], indent: str) -> None:
    for p in points:
        out.print(
            f"{indent}FNIR @ FPIR={p['target_fpir']:g}: {p['fnir']:.4%} "
            f"(threshold {p['threshold']:.4f})",
            highlight=False,
        )
