"""Subject requests by selfie on LFW: the requester's faces found and the strangers proposed,
under the old rule (one photo at the 1:1 threshold) and the calibrated one (the photos' mean
template, a threshold holding the expected strangers at the gallery's size); and the
impostor table the calibrated rule ships with (``facelens/data/subject_match_fmr.json``).

    .venv/bin/python bench/subject_requests.py --lfw ../shared/datasets/lfw \\
        --out bench/results/subject-requests.json --write-table facelens/data/subject_match_fmr.json

Who is who (all seeded): ``--mated`` people with at least 10 photos give 3 photos as the
requester and 7 to the gallery; ``--distractors`` other people give one gallery face each;
``--strangers`` further people (not in the gallery) each make a request with up to 3 photos.
Embeddings come from facelens's own pipeline (the evaluation's cache).

The impostor table: the false match rate at each threshold over every different-person pair
of the embedded images, per gender group (``groups/gender.csv``); the table keeps the worse
group at each threshold, so the rule is conservative for everyone.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from facelens.config import Settings
from facelens.evaluation.embeddings import (
    FACE,
    BenchmarkEmbedding,
    EmbeddingCache,
    embed_images,
)
from facelens.pipeline.embed.base import fused_template
from facelens.privacy.rights import MatchTable, calibrated_rule, candidate_scores

THRESHOLDS = [round(0.85 + 0.0025 * i, 4) for i in range(61)]  # 0.85 .. 1.0
#: Impostor pairs at or above a threshold for its FMR to count as measured.
RELIABLE_MATCHES = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--mated", type=int, default=40)
    parser.add_argument("--distractors", type=int, default=400)
    parser.add_argument("--strangers", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--cache", type=Path, default=Path.home() / ".cache/facelens/eval-embeddings.sqlite"
    )
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--write-table", type=Path, help="write the impostor table here")
    args = parser.parse_args()

    people: dict[str, list[Path]] = defaultdict(list)
    for path in sorted((args.lfw / "images").rglob("*.jpg")):
        people[path.parent.name].append(path)
    rng = random.Random(args.seed)
    names = sorted(people)
    rng.shuffle(names)
    mated = [n for n in names if len(people[n]) >= 10][: args.mated]
    rest = [n for n in names if n not in set(mated)]
    strangers = [n for n in rest if len(people[n]) >= 3][: args.strangers]
    distractors = [n for n in rest if n not in set(strangers)][: args.distractors]

    gallery: list[tuple[str, Path]] = []
    requests: list[tuple[str, list[Path]]] = []
    for name in mated:
        photos = people[name][:10]
        requests.append((name, photos[:3]))
        gallery += [(name, p) for p in photos[3:]]
    gallery += [(name, people[name][0]) for name in distractors]
    requests += [(name, people[name][:3]) for name in strangers]

    paths = [p for _, p in gallery] + [p for _, ps in requests for p in ps]
    cache = EmbeddingCache(args.cache)
    settings = Settings()
    embedded = embed_images(paths, settings, cache, workers=args.workers)
    cache.close()
    # As the engine does: only accepted faces are stored, and a request photo without one is
    # refused, so images that failed to enrol take part in neither.
    vector = {p: e.vector for p, e in embedded.items() if e.outcome == FACE}
    gallery = [(n, p) for n, p in gallery if p in vector]
    requests = [(n, [p for p in ps if p in vector]) for n, ps in requests]
    requests = [(n, ps) for n, ps in requests if ps]

    gallery_names = np.array([n for n, _ in gallery])
    gallery_vectors = np.stack([vector[p] for _, p in gallery]).astype(np.float32)

    groups = _groups(args.lfw)
    table = _impostor_table({p: e for p, e in embedded.items() if e.outcome == FACE}, groups)
    match_table = MatchTable.from_json(table)

    def run(photos_used: int, rule: str) -> dict[str, object]:
        found = held = strangers_proposed = requests_with_strangers = 0
        worst = 0
        expected = 0.0
        for name, photos in requests:
            templates = np.stack([vector[p] for p in photos[:photos_used]])
            if rule == "old":  # each photo alone at the 1:1 threshold, as before
                threshold = settings.match_threshold
                scores = (gallery_vectors @ templates.T).max(axis=1)
            else:
                calibrated = calibrated_rule(
                    match_table, len(gallery_vectors), len(templates), settings
                )
                threshold = calibrated.threshold
                expected += calibrated.expected_false_candidates
                scores = candidate_scores(gallery_vectors, templates)
            proposed = scores >= threshold
            own = gallery_names == name
            found += int((proposed & own).sum())
            held += int(own.sum())
            wrong = int((proposed & ~own).sum())
            strangers_proposed += wrong
            requests_with_strangers += wrong > 0
            worst = max(worst, wrong)
        return {
            "rule": rule,
            "photos": photos_used,
            "requester_faces_held": held,
            "requester_faces_found": found,
            "recall": round(found / held, 4) if held else None,
            "strangers_proposed": strangers_proposed,
            "requests_with_strangers": requests_with_strangers,
            "most_strangers_in_one_request": worst,
            "strangers_expected_by_the_rule": round(expected, 3) if rule != "old" else None,
        }

    rows = [run(1, "old"), run(1, "calibrated"), run(3, "calibrated"), run(3, "old")]

    def opt_out(photos_used: int, rule: str) -> dict[str, object]:
        """After erasure the requester's photos are the suppression list: how many of their
        other photos (the gallery's, as if ingested later) it stops, and how many faces of
        other people it stops too. The old rule: each photo alone at the match threshold;
        the engine's: their fused template at opt_out_threshold."""
        stopped = others_stopped = own_total = 0
        for name, photos in requests:
            templates = np.stack([vector[p] for p in photos[:photos_used]])
            if rule == "old":
                scores = (gallery_vectors @ templates.T).max(axis=1)
                threshold = settings.match_threshold
            else:
                scores = gallery_vectors @ fused_template(templates)
                threshold = settings.opt_out_threshold
            hit = scores >= threshold
            own = gallery_names == name
            stopped += int((hit & own).sum())
            own_total += int(own.sum())
            others_stopped += int((hit & ~own).sum())
        return {
            "rule": rule,
            "photos": photos_used,
            "threshold": threshold,
            "own_later_photos_stopped": stopped,
            "own_later_photos": own_total,
            "other_peoples_faces_stopped": others_stopped,
        }

    opt_outs = [opt_out(1, "old"), opt_out(3, "old"), opt_out(3, "fused")]
    rule = calibrated_rule(match_table, len(gallery_vectors), 3, settings)
    result = {
        "gallery_faces": len(gallery_vectors),
        "requests": len(requests),
        "mated_requests": sum(n in set(mated) for n, _ in requests),
        "stranger_requests": sum(n in set(strangers) for n, _ in requests),
        "calibrated_rule_at_this_gallery_3_photos": {
            "threshold": rule.threshold,
            "expected_false_candidates": rule.expected_false_candidates,
        },
        "rows": rows,
        "opt_out": opt_outs,
        "impostor_pairs": table["impostor_pairs"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    if args.write_table:
        args.write_table.parent.mkdir(parents=True, exist_ok=True)
        args.write_table.write_text(json.dumps(table, indent=1) + "\n")
    for row in rows:
        print(
            f"{row['rule']:>10} rule, {row['photos']} photo(s): found "
            f"{row['requester_faces_found']}/{row['requester_faces_held']} of the requesters' "
            f"faces; {row['strangers_proposed']} strangers proposed in "
            f"{row['requests_with_strangers']} of {len(requests)} requests "
            f"(at most {row['most_strangers_in_one_request']} in one)"
        )
    for row in opt_outs:
        print(
            f"opt-out, {row['rule']} rule, {row['photos']} photo(s) at {row['threshold']}: stops "
            f"{row['own_later_photos_stopped']}/{row['own_later_photos']} of the requesters' "
            f"later photos and {row['other_peoples_faces_stopped']} faces of other people"
        )
    print(
        f"calibrated threshold at {len(gallery_vectors)} faces, 3 photos: {rule.threshold} "
        f"(expected false candidates {rule.expected_false_candidates:.3g})",
        file=sys.stderr,
    )


def _groups(lfw: Path) -> dict[str, str]:
    path = lfw / "groups" / "gender.csv"
    if not path.is_file():
        return {}
    with path.open() as handle:
        return {row["image"]: row["group"] for row in csv.DictReader(handle)}


def _impostor_table(
    embedded: dict[Path, BenchmarkEmbedding], groups: dict[str, str]
) -> dict[str, object]:
    """FMR at each threshold over every different-person pair, per group; the worst kept."""
    paths = sorted(embedded)
    vectors = np.stack([embedded[p].vector for p in paths]).astype(np.float32)
    person = np.array([p.parent.name for p in paths])
    group = np.array([groups.get(p.name, "unknown") for p in paths])
    scores = vectors @ vectors.T
    upper = np.triu(np.ones_like(scores, dtype=bool), k=1)
    impostor = upper & (person[:, None] != person[None, :])
    per_group: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for name in sorted(set(group) - {"unknown"}) or ["all"]:
        member = np.ones(len(paths), dtype=bool) if name == "all" else group == name
        pairs = impostor & member[:, None] & member[None, :]
        values = scores[pairs]
        counts[name] = int(values.size)
        per_group[name] = [float((values >= t).mean()) if values.size else 0.0 for t in THRESHOLDS]
    worst = [max(rates[i] for rates in per_group.values()) for i in range(len(THRESHOLDS))]
    pairs = min(counts.values())
    model, measured = _tail_model(worst, pairs)
    return {
        "source": "LFW different-person pairs embedded by facelens's pipeline "
        "(bench/subject_requests.py); the worse gender group at each threshold",
        "impostor_pairs": pairs,
        "pairs_by_group": counts,
        "reliable_matches": RELIABLE_MATCHES,
        "thresholds": THRESHOLDS,
        "fmr": worst,
        "fmr_model": model,
        "measured": measured,
        "fmr_by_group": per_group,
    }


def _tail_model(fmr: list[float], pairs: int) -> tuple[list[float], list[bool]]:
    """The measured FMR where at least RELIABLE_MATCHES impostor pairs reach the threshold;
    beyond, the log-linear fit of the measured tail (FMR at most 1e-2), never above the last
    measured value."""
    measured = [f * pairs >= RELIABLE_MATCHES for f in fmr]
    tail = [i for i, m in enumerate(measured) if m and fmr[i] <= 1e-2]
    if len(tail) < 3:
        return fmr, measured
    slope, intercept = np.polyfit([THRESHOLDS[i] for i in tail], np.log([fmr[i] for i in tail]), 1)
    last = fmr[tail[-1]]
    model = [
        f if m else float(min(last, np.exp(intercept + slope * t)))
        for f, m, t in zip(fmr, measured, THRESHOLDS, strict=True)
    ]
    return model, measured


if __name__ == "__main__":
    main()
