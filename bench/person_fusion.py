"""Per-person search on LFW: a person's faces fused into one score (``max`` or the quality
weighted mean of their best 3, ``facelens.person_fusion``) against today's face-by-face
search, as a function of the reference photos each person has; and two probe photos of one
person fused into one probe against one photo.

    PYTHONPATH=. .venv/bin/python -m bench.person_fusion --lfw ../shared/datasets/lfw \\
        --cache /tmp/eval-mtcnn.sqlite --out bench/results/person-fusion.json

**Faces.** Every LFW image embedded through facelens's pipeline and cache at the default
settings (the cache ``facelens eval lfw`` fills), kept when the default gates would have
indexed its face; each face's stored quality (box size, sharpness) gives its weight.

**Split** (seeded). A ``--stranger-share`` of the people are strangers: up to
``--stranger-probes`` of their photos are non-mated probes, and none of their faces is in the
gallery. The other people with more than ``max(--refs)`` photos are enrolled: their first
``R`` photos (shuffled, seeded) are their references for each ``R`` in ``--refs``, and their
photos after the first ``max(--refs)`` are mated probes (up to ``--mated-probes`` each), so
that every ``R`` is measured on the same people and the same probes. Everyone else's faces
are in the gallery unassigned, each a candidate of its own.

**Measures**, for face-by-face search (``face``), per person ``max`` and ``quality_mean``:
rank-1 (the top candidate is the mate's person, or for ``face`` one of the mate's faces);
FNIR at FPIR 0.01 and 0.003 (``fnir_at_fpir``: the mate's score is their person's fused score,
or their best face's); and at the engine threshold, FPIR (non-mated searches with a candidate
at or over it), FNIR, and the false candidates a non-mated search shows at or over it (faces
for ``face``, candidates per person: what more reference photos do to a stranger's chances).
The ``enrolled`` figures leave the unassigned faces out: a stranger against the enrolled
persons only (FPIR at the threshold, false candidates, and FNIR at FPIR 0.01 and 0.003 of a
gallery of persons only).

**Multi-probe.** Mated and non-mated probe pairs (two photos of the same probe person), at
``R = 3`` per person with ``Settings().person_fusion``: one photo; the two embeddings' mean,
normalised; the mean of the two photos' similarities (what ``Engine.search_same_person``
shows: the same order within a search as the normalised mean, on the single-photo scale);
and the better of the two similarities per candidate (score-level max).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.clustering import indexed_by_defaults, lfw_images
from facelens.config import DEFAULT_MATCH_THRESHOLD, Settings
from facelens.evaluation.embeddings import EmbeddingCache, embed_images
from facelens.evaluation.metrics import fnir_at_fpir
from facelens.person_fusion import QUALITY_TOP_M, fuse, fuse_probes, quality_weight

DEFAULT_CACHE = Path.home() / ".cache" / "facelens" / "eval-embeddings.sqlite"
FPIRS = (0.01, 0.003)
MODES = ("face", "max", "quality_mean")


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Per-person search on LFW.")
    parser.add_argument("--lfw", type=Path, required=True, help="the LFW folder")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="embedding cache")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--refs", type=int, nargs="+", default=[1, 3, 5], help="references")
    parser.add_argument("--stranger-share", type=float, default=0.25)
    parser.add_argument("--stranger-probes", type=int, default=2, help="most per stranger")
    parser.add_argument("--mated-probes", type=int, default=10, help="most per enrolled person")
    parser.add_argument("--threshold", type=float, default=DEFAULT_MATCH_THRESHOLD)
    parser.add_argument("--max-people", type=int, help="a seeded subset of people (default all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    return parser.parse_args(argv)


def load_faces(
    args: argparse.Namespace, settings: Settings
) -> dict[str, list[tuple[np.ndarray, float]]]:
    """Each person's indexed faces, as (vector, quality weight), in LFW's order."""
    images = lfw_images(args.lfw, args.max_people, args.seed)
    cache = EmbeddingCache(args.cache)
    try:
        embedded = embed_images([p for p, _ in images], settings, cache, workers=args.workers)
    finally:
        cache.close()
    faces: dict[str, list[tuple[np.ndarray, float]]] = {}
    for path, person in images:
        e = embedded[path]
        if indexed_by_defaults(e, settings):
            weight = quality_weight(e.size_px or 0.0, e.sharpness or 0.0)
            faces.setdefault(person, []).append((e.vector.astype(np.float32), weight))
    return faces


def person_scores(sims: np.ndarray, weights: np.ndarray, mode: str) -> np.ndarray:
    """Fused scores (probes, persons) from face scores (probes, persons, R): ``fuse`` over
    the last axis, vectorised."""
    if mode == "max":
        return np.asarray(sims.max(axis=2))
    order = np.argsort(-sims, axis=2, kind="stable")[:, :, :QUALITY_TOP_M]
    top = np.take_along_axis(sims, order, axis=2)
    w = np.take_along_axis(np.broadcast_to(weights, sims.shape), order, axis=2)
    return np.asarray((top * w).sum(axis=2) / w.sum(axis=2))


def measure(
    mated_sims: np.ndarray,
    mated_persons: np.ndarray,
    nonmated_sims: np.ndarray,
    refs: np.ndarray,
    weights: np.ndarray,
    lone: int,
    threshold: float,
    mode: str,
) -> dict[str, Any]:
    """One row: ``*_sims`` are (probes, gallery faces) with the enrolled persons' references
    first (``refs``: (persons, R) column numbers, ``weights`` theirs) and ``lone`` unassigned
    faces last; ``mated_persons`` each mated probe's person number."""
    if mode == "face":
        mated_top = mated_sims.argmax(axis=1)
        owner = np.full(mated_sims.shape[1], -1)
        owner[refs.ravel()] = np.repeat(np.arange(len(refs)), refs.shape[1])
        rank1 = owner[mated_top] == mated_persons
        mates = mated_sims[:, refs].max(axis=2)[np.arange(len(mated_persons)), mated_persons]
        nonmated_top = nonmated_sims.max(axis=1)
        false_shown = (nonmated_sims >= threshold).sum(axis=1)
        enrolled = nonmated_sims[:, refs.ravel()]  # the enrolled persons' faces
    else:
        rows = []
        for sims in (mated_sims, nonmated_sims):
            fused = person_scores(sims[:, refs], weights, mode)
            rows.append(np.concatenate([fused, sims[:, sims.shape[1] - lone :]], axis=1))
        mated_c, nonmated_c = rows
        rank1 = mated_c.argmax(axis=1) == mated_persons
        mates = mated_c[np.arange(len(mated_persons)), mated_persons]
        nonmated_top = nonmated_c.max(axis=1)
        false_shown = (nonmated_c >= threshold).sum(axis=1)
        enrolled = nonmated_c[:, : len(refs)]
    row: dict[str, Any] = {"mode": mode, "rank1": round(float(rank1.mean()), 4)}
    for target in FPIRS:
        point = fnir_at_fpir(nonmated_top, mates, target)
        row[f"fnir_at_fpir_{target}"] = round(point.fnir, 4)
        row[f"threshold_at_fpir_{target}"] = round(point.threshold, 4)
    row["fpir_at_threshold"] = round(float(np.mean(nonmated_top >= threshold)), 4)
    row["fnir_at_threshold"] = round(float(np.mean(mates < threshold)), 4)
    row["false_candidates_per_nonmated_search"] = round(float(false_shown.mean()), 4)
    # Against the enrolled persons only (the lone faces left out): what their references do.
    for target in FPIRS:
        point = fnir_at_fpir(enrolled.max(axis=1), mates, target)
        row[f"enrolled_only_fnir_at_fpir_{target}"] = round(point.fnir, 4)
    row["fpir_enrolled_at_threshold"] = round(float(np.mean(enrolled.max(axis=1) >= threshold)), 4)
    row["false_enrolled_per_nonmated_search"] = round(
        float((enrolled >= threshold).sum(axis=1).mean()), 4
    )
    return row


def split(
    faces: dict[str, list[tuple[np.ndarray, float]]], args: argparse.Namespace
) -> dict[str, Any]:
    rng = random.Random(args.seed)
    people = sorted(faces)
    strangers = set(rng.sample(people, round(args.stranger_share * len(people))))
    most = max(args.refs)
    enrolled: list[str] = []
    lone: list[np.ndarray] = []
    for person in people:
        if person in strangers:
            continue
        if len(faces[person]) > most:
            enrolled.append(person)
        else:
            lone.extend(v for v, _ in faces[person])
    order = {p: rng.sample(range(len(faces[p])), len(faces[p])) for p in enrolled}
    mated = [
        (i, faces[p][j][0])
        for i, p in enumerate(enrolled)
        for j in order[p][most : most + args.mated_probes]
    ]
    nonmated = [[v for v, _ in faces[p][: args.stranger_probes]] for p in sorted(strangers)]
    return {"enrolled": enrolled, "order": order, "lone": lone, "mated": mated,
            "nonmated": nonmated}  # fmt: skip


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    settings = Settings()
    faces = load_faces(args, settings)
    parts = split(faces, args)
    enrolled, order, lone = parts["enrolled"], parts["order"], parts["lone"]
    if not enrolled or not parts["nonmated"]:
        raise SystemExit("too few people for enrolled persons and strangers; use more people")
    mated_persons = np.array([i for i, _ in parts["mated"]])
    mated_q = np.stack([v for _, v in parts["mated"]])
    nonmated_q = np.stack([v for vs in parts["nonmated"] for v in vs])
    lone_g = np.stack(lone) if lone else np.zeros((0, mated_q.shape[1]), np.float32)
    rows = []
    for r in sorted(args.refs):
        ref_faces = [[faces[p][j] for j in order[p][:r]] for p in enrolled]
        gallery = np.concatenate([np.stack([v for ps in ref_faces for v, _ in ps]), lone_g])
        refs = np.arange(len(enrolled) * r).reshape(len(enrolled), r)
        weights = np.array([[w for _, w in ps] for ps in ref_faces])
        mated_sims, nonmated_sims = mated_q @ gallery.T, nonmated_q @ gallery.T
        _check_fusion(mated_sims[:3, refs[:5]], weights[:5])
        for mode in MODES:
            row = measure(
                mated_sims, mated_persons, nonmated_sims, refs, weights, len(lone), args.threshold,
                mode,
            )  # fmt: skip
            rows.append({"references": r, **row})
    multi = multi_probe(faces, parts, args, settings)
    return {
        "command": "python -m bench.person_fusion " + " ".join(sys.argv[1:]),
        "threshold": args.threshold,
        "quality_top_m": QUALITY_TOP_M,
        "seed": args.seed,
        "enrolled_persons": len(enrolled),
        "unassigned_gallery_faces": len(lone),
        "mated_searches": len(mated_q),
        "nonmated_searches": len(nonmated_q),
        "strangers": len(parts["nonmated"]),
        "reference_weights_under_1": round(
            float(np.mean([w < 1 for p in enrolled for _, w in faces[p]])), 4
        ),
        "rows": rows,
        "multi_probe": multi,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _check_fusion(sims: np.ndarray, weights: np.ndarray) -> None:
    """The vectorised fusion is ``facelens.person_fusion.fuse`` (the engine's)."""
    for mode in ("max", "quality_mean"):
        fast = person_scores(sims, weights, mode)
        for i in range(sims.shape[0]):
            for p in range(sims.shape[1]):
                slow, _ = fuse(sims[i, p], weights[p], mode)
                assert abs(fast[i, p] - slow) < 1e-5, (mode, fast[i, p], slow)


def multi_probe(
    faces: dict[str, list[tuple[np.ndarray, float]]],
    parts: dict[str, Any],
    args: argparse.Namespace,
    settings: Settings,
) -> dict[str, Any]:
    """Two photos of the probe person: one, fused into one probe, or searched apart (the
    better score per candidate), at 3 references a person (or the fewest asked)."""
    enrolled, order = parts["enrolled"], parts["order"]
    r = 3 if 3 in args.refs else min(args.refs)
    most = max(args.refs)
    ref_faces = [[faces[p][j] for j in order[p][:r]] for p in enrolled]
    lone = np.stack(parts["lone"]) if parts["lone"] else None
    gallery = np.stack([v for ps in ref_faces for v, _ in ps])
    if lone is not None:
        gallery = np.concatenate([gallery, lone])
    refs = np.arange(len(enrolled) * r).reshape(len(enrolled), r)
    weights = np.array([[w for _, w in ps] for ps in ref_faces])
    pairs = [
        (i, faces[p][a][0], faces[p][b][0])
        for i, p in enumerate(enrolled)
        for probes in [order[p][most : most + args.mated_probes]]
        for a, b in zip(probes[0::2], probes[1::2], strict=False)
    ]
    stranger_pairs = [(vs[0], vs[1]) for vs in parts["nonmated"] if len(vs) >= 2]
    if not pairs or not stranger_pairs:
        return {"note": "too few people with two probe photos"}
    persons = np.array([i for i, _, _ in pairs])
    firsts = np.stack([a for _, a, _ in pairs]), np.stack([a for a, _ in stranger_pairs])
    seconds = np.stack([b for _, _, b in pairs]), np.stack([b for _, b in stranger_pairs])
    lone_n = 0 if lone is None else len(lone)
    mode = settings.person_fusion
    rows = []
    names = (
        "one photo",
        "two fused: mean embedding, normalised",
        "two fused: mean similarity (engine)",
        "two apart (max score)",
    )
    for name in names:
        sims = []
        for k in range(2):
            a, b = firsts[k] @ gallery.T, seconds[k] @ gallery.T
            if name == "one photo":
                sims.append(a)
            elif name.startswith("two fused: mean embedding"):
                fused = np.stack(
                    [
                        fuse_probes(np.stack([x, y]))[0]
                        for x, y in zip(firsts[k], seconds[k], strict=True)
                    ]
                )
                sims.append(fused @ gallery.T)
            elif name.startswith("two fused: mean similarity"):
                sims.append((a + b) / 2)
            else:
                sims.append(np.maximum(a, b))
        row = measure(sims[0], persons, sims[1], refs, weights, lone_n, args.threshold, mode)
        rows.append({"probes": name, **row})
    return {"references": r, "mated_pairs": len(pairs), "nonmated_pairs": len(stranger_pairs),
            "rows": rows}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    result = evaluate(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    head = f"{'R':>2} {'mode':13} {'rank1':>7} {'FNIR@.01':>9} {'FNIR@.003':>10} {'FPIR@t':>7}"
    print(head + f" {'FNIR@t':>7} {'false/srch':>10} {'FPIR@t enr':>10} {'false enr':>9}")
    for row in result["rows"]:
        print(
            f"{row['references']:>2} {row['mode']:13} {row['rank1']:7.4f} "
            f"{row['fnir_at_fpir_0.01']:9.4f} {row['fnir_at_fpir_0.003']:10.4f} "
            f"{row['fpir_at_threshold']:7.4f} {row['fnir_at_threshold']:7.4f} "
            f"{row['false_candidates_per_nonmated_search']:10.4f} "
            f"{row['fpir_enrolled_at_threshold']:10.4f} "
            f"{row['false_enrolled_per_nonmated_search']:9.4f}"
        )
    for row in result["multi_probe"].get("rows", []):
        print(
            f"multi {row['probes']:38} rank1 {row['rank1']:.4f} FNIR@.01 "
            f"{row['fnir_at_fpir_0.01']:.4f} FNIR@.003 {row['fnir_at_fpir_0.003']:.4f} "
            f"FPIR@t {row['fpir_at_threshold']:.4f} "
            f"FNIR@t {row['fnir_at_threshold']:.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
