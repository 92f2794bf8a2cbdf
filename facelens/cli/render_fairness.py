"""The summary of the per-group error rates (``facelens eval lfw --groups``)."""

from __future__ import annotations

from typing import Any

from rich.console import Console


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.4%}"


def _ratio(r: dict[str, Any]) -> str:
    if r["ratio"] is None:
        return "-" if r["lowest"] is None else f"unbounded ({r['lowest']}: none)"
    return f"{r['ratio']} ({r['highest']}/{r['lowest']})"


def print_fairness_summary(out: Console, f: dict[str, Any]) -> None:
    """The ``fairness`` block of ``facelens eval lfw``'s figures, one line per group."""
    one, many = f["one_to_one"], f["one_to_many"]
    out.print(
        f"Error rates by group at threshold {one['threshold']} ({f['scores']} scores):",
        highlight=False,
    )
    searched = {r["group"]: r for r in many["groups"]} if many else {}
    for r in one["groups"]:
        line = (
            f"  {r['group']}: FMR {_pct(r['fmr'])} ({r['false_matches']:,} of "
            f"{r['impostor_pairs']:,} impostor pairs), FNMR {_pct(r['fnmr'])} "
            f"({r['false_non_matches']:,} of {r['genuine_pairs']:,} genuine pairs)"
        )
        if r["group"] in searched:
            s = searched[r["group"]]
            line += (
                f"; 1:N FPIR {_pct(s['fpir'])} ({s['false_positives']} of {s['nonmated_probes']}"
                f" non-mated), FNIR {_pct(s['fnir'])} (of {s['mated_probes']} mated)"
            )
        out.print(line, highlight=False)
    for c in one["cross_group"]:
        out.print(
            f"  cross-group {'/'.join(c['groups'])}: FMR {_pct(c['fmr'])} "
            f"({c['false_matches']:,} of {c['impostor_pairs']:,} impostor pairs)",
            highlight=False,
        )
    for p in one["at_pooled_fmr"]:
        out.print(
            f"  at threshold {p['threshold']} (pooled FMR {p['pooled_fmr_target']:g}): "
            + ", ".join(f"{g} FMR {_pct(x)}" for g, x in p["fmr"].items())
            + f", highest/lowest {p['fmr_max_over_min']}",
            highlight=False,
        )
    for p in many["at_thresholds"] if many else []:
        out.print(
            f"  1:N at threshold {p['threshold']} (overall FPIR {p['overall_fpir_target']:g}): "
            + ", ".join(
                f"{r['group']} FPIR {_pct(r['fpir'])} ({r['false_positives']} of "
                f"{r['nonmated_probes']}), FNIR {_pct(r['fnir'])}"
                for r in p["groups"]
            )
            + f", FPIR highest/lowest {_ratio(p['fpir_max_over_min'])}",
            highlight=False,
        )
    ratios = [("FMR", one["fmr_max_over_min"]), ("FNMR", one["fnmr_max_over_min"])]
    if many:
        ratios.append(("1:N FPIR", many["fpir_max_over_min"]))
    out.print(
        "  highest/lowest: " + ", ".join(f"{k} {_ratio(r)}" for k, r in ratios),
        highlight=False,
    )
