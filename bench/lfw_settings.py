"""Which pipeline settings move LFW accuracy? Compares settings on View 1 only (the
development split), through ``facelens eval``'s own code and embedding cache.

    .venv/bin/python bench/lfw_settings.py --root ../shared/datasets/lfw \\
        --out bench/results/lfw-settings.json

Each variant is the default settings with a few overrides. Reported per variant: accuracy on
pairsDevTest at the best-accuracy threshold of pairsDevTrain, 10-fold accuracy over all 3,200
View 1 pairs, ROC AUC on pairsDevTest, failures to enrol, and embedding time. Differences are
against the first variant, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from facelens.config import Settings
from facelens.evaluation.run import EvalOptions, evaluate_lfw

VARIANTS: dict[str, dict[str, Any]] = {
    "plain (no flip)": {"embed_flip_average": False},
    "flip average (default)": {},
    "flip + chip padding 0.4": {"chip_padding": 0.4},
    "flip + HOG upsample 2": {"detect_upsample_times": 2},
}


def main() -> None:
    parser = argparse.ArgumentParser(description="Compare pipeline settings on LFW View 1.")
    parser.add_argument("--root", type=Path, required=True, help="the LFW folder")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path.home() / ".cache" / "facelens" / "eval-embeddings.sqlite",
    )
    parser.add_argument("--only", nargs="*", help="run only these variants (by name)")
    args = parser.parse_args()

    rows = []
    for name, overrides in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        settings = Settings().model_copy(update=overrides)
        options = EvalOptions(
            root=args.root, protocols=["view1"], workers=args.workers, cache_path=args.cache
        )
        result = evaluate_lfw(settings, options)
        v1 = result["view1"]
        rows.append(
            {
                "variant": name,
                "overrides": overrides,
                "dev_test_accuracy": v1["best_accuracy_threshold_on_test"]["accuracy"],
                "ten_fold_accuracy_all_pairs": v1["ten_fold_accuracy_all_pairs"],
                "dev_test_roc_auc": v1["test_roc_auc"],
                "failure_to_enrol": v1["enrolment"]["failure_to_enrol"],
                "threshold_at_fmr_1e-3": v1["threshold_at_fmr_1e-3"],
                "embed_s": result["timing_s"]["embed_view1"],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    base = rows[0]
    for row in rows:
        row["ten_fold_gain_points"] = round(
            100 * (row["ten_fold_accuracy_all_pairs"] - base["ten_fold_accuracy_all_pairs"]), 3
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"dataset": str(args.root), "variants": rows}, indent=2) + "\n")
    print(f"{'variant':28} {'devtest':>8} {'10-fold':>8} {'gain':>6} {'AUC':>8} {'FTE':>4}")
    for r in rows:
        print(
            f"{r['variant']:28} {r['dev_test_accuracy']:8.4f}"
            f" {r['ten_fold_accuracy_all_pairs']:8.4f} {r['ten_fold_gain_points']:+6.2f}"
            f" {r['dev_test_roc_auc']:8.5f} {r['failure_to_enrol']:4d}"
        )


if __name__ == "__main__":
    main()
