"""Write an evaluation: ``results.json`` (every figure), ``curves.json`` (the plotted points),
PNG plots (matplotlib) and ``report.html`` that shows them with the settings used; given the
JSON of ``bench/face_size.py``, its curve of accuracy against face size too."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def split_curves(result: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(figures without curve data, curve data by protocol)."""
    figures: dict[str, Any] = {}
    curves: dict[str, Any] = {}
    for key, value in result.items():
        if isinstance(value, dict):
            inner = {k: v for k, v in value.items() if k not in ("curves", "test_curves")}
            for curve_key in ("curves", "test_curves"):
                if curve_key in value:
                    curves[key] = value[curve_key]
            figures[key] = inner
        else:
            figures[key] = value
    return figures, curves


def write_report(
    result: dict[str, Any], out: Path, face_size: dict[str, Any] | None = None
) -> list[Path]:
    """Every file of the report in ``out``; ``face_size``: a face size curve to include."""
    out.mkdir(parents=True, exist_ok=True)
    figures, curves = split_curves(result)
    (out / "results.json").write_text(json.dumps(figures, indent=2) + "\n")
    (out / "curves.json").write_text(json.dumps(curves) + "\n")
    written = [out / "results.json", out / "curves.json"]
    plots = []
    verification: dict[str, Any] = {
        k: curves[k] for k in ("view2", "view1") if k in curves and "far" in curves[k]
    }
    if verification:
        plots += [_roc(verification, out / "roc.png"), _det(verification, out / "det.png")]
    if "identification" in curves:
        plots.append(_cmc(curves["identification"]["cmc"], out / "cmc.png"))
    extra = ""
    for key, name in (
        ("fairness", "fairness.png"),
        ("fairness_normalised", "fairness-normalised.png"),
    ):
        if key in curves:
            plots.append(_fairness_plot(figures[key], curves[key], out / name))
        if key in figures:
            extra += _fairness_section(figures[key])
    if face_size is not None:
        (out / "face-size.json").write_text(json.dumps(face_size, indent=2) + "\n")
        written.append(out / "face-size.json")
        plots.append(plot_face_size(face_size, out / "face-size.png"))
        extra += _face_size_section(face_size)
    written += plots
    (out / "report.html").write_text(_html(figures, [p.name for p in plots], extra))
    written.append(out / "report.html")
    return written


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _label(key: str) -> str:
    return {"view2": "LFW View 2 (6,000 pairs)", "view1": "LFW View 1 test (1,000 pairs)"}[key]


def _roc(curves: dict[str, Any], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for key, c in curves.items():
        far = [max(f, 1e-5) for f in c["far"]]
        ax.plot(far, c["tar"], label=_label(key))
    ax.set_xscale("log")
    ax.set_xlim(1e-4, 1)
    ax.set_xlabel("false accept rate (FAR, log scale)")
    ax.set_ylabel("true accept rate (TAR)")
    ax.set_title("ROC")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    return _save(fig, path)


def _det(curves: dict[str, Any], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for key, c in curves.items():
        fmr = [max(f, 1e-5) for f in c["far"]]
        fnmr = [max(1 - t, 1e-5) for t in c["tar"]]
        ax.plot(fmr, fnmr, label=_label(key))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(1e-4, 1)
    ax.set_ylim(1e-4, 1)
    ax.set_xlabel("false match rate (FMR)")
    ax.set_ylabel("false non-match rate (FNMR)")
    ax.set_title("DET")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper right")
    return _save(fig, path)


def _cmc(cmc: list[float], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ranks = list(range(1, len(cmc) + 1))
    ax.plot(ranks, cmc, marker="o", markersize=3)
    ax.set_xlabel("rank")
    ax.set_ylabel("identification rate (mated searches)")
    ax.set_title("CMC, open-set 1:N on LFW")
    ax.set_xticks(ranks)
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def _fairness_plot(figures: dict[str, Any], curves: dict[str, Any], path: Path) -> Path:
    """FMR (log scale) and FNMR against the threshold per group, as NISTIR 8280 plots them,
    the engine threshold marked; cross-group FMR dashed."""
    one = figures["one_to_one"]
    floor = 0.5 / max([r["impostor_pairs"] for r in one["groups"]] + [1])
    t = curves["thresholds"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for group, fmr in curves["fmr"].items():
        left.plot(t, [max(f, floor) for f in fmr], label=group)
    for pair, fmr in curves["cross_fmr"].items():
        left.plot(t, [max(f, floor) for f in fmr], linestyle="--", label=f"{pair} (cross)")
    for group, fnmr in curves["fnmr"].items():
        right.plot(t, fnmr, label=group)
    for ax, label in ((left, "false match rate (FMR, log scale)"), (right, "FNMR")):
        ax.axvline(one["threshold"], color="grey", linestyle=":", label="engine threshold")
        ax.set_xlabel(f"threshold ({figures['scores']} scores)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    left.set_yscale("log")
    left.set_ylim(floor, 1)
    left.set_title("FMR per group (impostor pairs within the group)")
    right.set_title("FNMR per group (all genuine pairs within the group)")
    return _save(fig, path)


def _fairness_section(f: dict[str, Any]) -> str:
    def rate(x: float | None, hits: int, n: int) -> str:
        return "-" if x is None else f"{x:.4%} ({hits:,} of {n:,})"

    def fpir(r: dict[str, Any]) -> str:
        return rate(r["fpir"], r["false_positives"], r["nonmated_probes"])

    def fnir(r: dict[str, Any]) -> str:
        return rate(r["fnir"], r["false_negatives"], r["mated_probes"])

    one, many = f["one_to_one"], f["one_to_many"]
    searched = {r["group"]: r for r in many["groups"]} if many else {}
    head = (
        "<tr><th>group</th><th>images</th><th>FMR (false matches of impostor pairs)</th>"
        "<th>FNMR (of genuine pairs)</th><th>1:N FPIR (of non-mated probes)</th>"
        "<th>1:N FNIR (of mated probes)</th></tr>"
    )
    rows = ""
    for r in one["groups"]:
        s = searched.get(r["group"])
        cells = [
            r["group"],
            f"{r['images']:,}",
            rate(r["fmr"], r["false_matches"], r["impostor_pairs"]),
            rate(r["fnmr"], r["false_non_matches"], r["genuine_pairs"]),
            fpir(s) if s else "-",
            fnir(s) if s else "-",
        ]
        rows += "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"

    def ratio(r: dict[str, Any]) -> str:
        if r["ratio"] is None:
            return "-" if r["lowest"] is None else f"unbounded ({r['lowest']}: none)"
        return f"{r['ratio']} ({r['highest']} / {r['lowest']})"

    summary = [
        ("highest / lowest group FMR", ratio(one["fmr_max_over_min"])),
        ("highest / lowest group FNMR", ratio(one["fnmr_max_over_min"])),
    ]
    summary += [
        (
            f"cross-group FMR, {' vs '.join(c['groups'])}",
            rate(c["fmr"], c["false_matches"], c["impostor_pairs"]),
        )
        for c in one["cross_group"]
    ]
    summary += [
        (
            f"at threshold {p['threshold']} (pooled FMR {p['pooled_fmr_target']:g})",
            ", ".join(f"{g} FMR {'-' if x is None else f'{x:.4%}'}" for g, x in p["fmr"].items())
            + f"; highest / lowest {p['fmr_max_over_min']}",
        )
        for p in one["at_pooled_fmr"]
    ]
    if many:
        summary.append(("highest / lowest group FPIR (1:N)", ratio(many["fpir_max_over_min"])))
        summary += [
            (
                f"1:N at threshold {p['threshold']} (overall FPIR {p['overall_fpir_target']:g})",
                "; ".join(f"{r['group']} FPIR {fpir(r)}, FNIR {fnir(r)}" for r in p["groups"])
                + f"; FPIR highest / lowest {ratio(p['fpir_max_over_min'])}",
            )
            for p in many["at_thresholds"]
        ]
    summary.append(("protocol", f["protocol"]))
    return (
        f"<h2>Error rates by group at threshold {one['threshold']} ({html.escape(f['scores'])} "
        f"scores, NISTIR 8280 style)</h2><table>{head}{rows}</table>" + _table(summary)
    )


def plot_face_size(curve: dict[str, Any], path: Path) -> Path:
    """Accuracy, TAR at FAR 1e-3 and the share of photos with a face found, against the face
    size the photos were downscaled to; one line per mode, full size as a dashed line."""
    rows = curve["rows"]
    full = next((r for r in rows if r["size"] == "full"), None)
    panels = (
        ("accuracy", "accuracy (10-fold mean)"),
        ("tar_at_far_1e-3", "TAR @ FAR = 1e-3"),
        ("detected_share", "share of downscaled photos with a face found"),
    )
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    sizes = sorted({r["size"] for r in rows if r["size"] != "full"})
    for ax, (key, label) in zip(axes, panels, strict=True):
        for mode in ("one", "both"):
            points = sorted((r["size"], r[key]) for r in rows if r["mode"] == mode)
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(
                    xs,
                    ys,
                    marker="o",
                    label=f"{mode} photo downscaled" if mode == "one" else "both photos downscaled",
                )
        if full is not None:
            ax.axhline(full[key], linestyle="--", color="grey", label="full size")
        ax.set_xticks(sizes)
        ax.set_xlabel("face size, px (photo downscaled to it)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[0].legend(loc="lower right")
    settings = curve["settings"]
    detector = settings["detector"]
    if detector != "mtcnn":  # the upsampling settings are dlib's only
        detector += f" (upsample {settings['detect_upsample_times']})"
    fig.suptitle(f"LFW {curve['protocol']}, {curve['pairs']} pairs: {detector}, gates off")
    return _save(fig, path)


def _face_size_section(curve: dict[str, Any]) -> str:
    head = (
        "<tr><th>face px</th><th>mode</th><th>accuracy ± sd</th><th>TAR @ FAR=1e-3</th>"
        "<th>face found</th><th>median box px</th><th>accuracy, faces found</th>"
        "<th>indexed by the gates</th></tr>"
    )
    cells = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(v))}</td>"
            for v in (
                r["size"],
                r["mode"],
                f"{r['accuracy']:.2%} ± {r['accuracy_std']:.2%}",
                f"{r['tar_at_far_1e-3']:.2%}",
                f"{r['detected_share']:.1%}",
                r["box_px_median"],
                "-" if r["accuracy_detected"] is None else f"{r['accuracy_detected']:.2%}",
                f"{r['indexed_by_gates_share']:.1%}",
            )
        )
        + "</tr>"
        for r in curve["rows"]
    )
    return (
        f"<h2>Accuracy against face size (LFW {html.escape(curve['protocol'])}, "
        f"{curve['pairs']} pairs)</h2><table>{head}{cells}</table>"
    )


def _table(rows: list[tuple[str, Any]]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{cells}</table>"


def _html(figures: dict[str, Any], plots: list[str], extra: str = "") -> str:
    sections = []
    v2 = figures.get("view2")
    if v2:
        rows = [
            (
                "mean accuracy ± std (10 folds)",
                f"{v2['mean_accuracy']:.4%} ± {v2['std_accuracy']:.4%}",
            ),
            ("standard error", f"{v2['standard_error']:.4%}"),
            ("ROC AUC", v2["roc_auc"]),
            ("EER", f"{v2['eer']:.4%}"),
        ]
        rows += [
            (f"TAR @ FAR={p['target_far']:g}", f"{p['tar']:.4%} (threshold {p['threshold']:.4f})")
            for p in v2["tar_at_far"]
        ]
        e = v2["enrolment"]
        rows.append(("failure to enrol", f"{e['failure_to_enrol']} of {e['images']} images"))
        sections.append("<h2>Verification, LFW View 2</h2>" + _table(rows))
    ident = figures.get("identification")
    if ident:
        rows = [("rank-1", f"{ident['rank_1']:.4%}"), ("rank-5", f"{ident['rank_5']:.4%}")]
        rows += [
            (
                f"FNIR @ FPIR={p['target_fpir']:g}",
                f"{p['fnir']:.4%} (threshold {p['threshold']:.4f})",
            )
            for p in ident["fnir_at_fpir"]
        ]
        rows += [(k.replace("_", " "), v) for k, v in ident["split"].items()]
        sections.append("<h2>Open-set identification (1:N)</h2>" + _table(rows))
    v1 = figures.get("view1")
    if v1:

        def rates(r: dict[str, float]) -> str:
            return f"FMR {r['fmr']:.4%}, FNMR {r['fnmr']:.4%}, accuracy {r['accuracy']:.4%}"

        rows = [
            ("threshold at FMR 1e-3 (View 1 train)", v1["threshold_at_fmr_1e-3"]),
            ("  on View 1 test", rates(v1["threshold_at_fmr_1e-3_on_test"])),
            ("best-accuracy threshold (train)", round(v1["best_accuracy_threshold"], 4)),
            ("  on View 1 test", rates(v1["best_accuracy_threshold_on_test"])),
        ]
        sections.append("<h2>Development split, LFW View 1</h2>" + _table(rows))
    groups = figures.get("groups")
    if groups:
        rows = [(r["group"], f"FMR {r['fmr']}, FNMR {r['fnmr']}") for r in groups["rates"]]
        rows.append(("highest / lowest group FMR", groups["fmr_max_over_min"]))
        sections.append("<h2>Per group, at the engine threshold</h2>" + _table(rows))
    images = "".join(f'<img src="{html.escape(p)}" alt="{html.escape(p)}">' for p in plots)
    settings = _table([*figures["settings"].items(), ("model", figures["model"])])
    timing = _table(
        [
            ("total", f"{figures['elapsed_s']} s"),
            (
                "images embedded / from cache",
                f"{figures['images_embedded']} / {figures['images_from_cache']}",
            ),
        ]
        + [(k, f"{v} s") for k, v in figures.get("timing_s", {}).items()]
        + list(figures["machine"].items())
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>facelens evaluation</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto}}
table{{border-collapse:collapse;margin-bottom:1rem}}
th,td{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}}
img{{max-width:32rem;margin:.5rem}}</style></head><body>
<h1>facelens evaluation on {html.escape(figures["dataset"])}</h1>
{"".join(sections)}{extra}
<h2>Plots</h2>{images}
<h2>Settings</h2>{settings}
<h2>Time</h2>{timing}
<p>Every figure is in results.json; the plotted points in curves.json.</p>
</body></html>
"""
