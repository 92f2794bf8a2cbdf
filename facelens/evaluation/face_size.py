"""Recognition accuracy against face size: LFW pairs with one or both photos downscaled so that
the face is about ``S`` px, run through the normal pipeline (``bench/face_size.py``).

**Downscaling.** An LFW photo is 250x250 and LFW made its faces about one size. The reference
face size is therefore one fixed figure, ``LFW_FACE_PX``: the mean short side of dlib HOG's box
(1 upsampling, the box ``min_face_size_px`` measures) on 600 seeded LFW photos at full size.
The median is 108, but HOG's boxes come in steps of 1.2 (75, 90, 108, 130 px), so the mean is
the better estimate. For a face of ``S`` px the whole photo is scaled by ``S / LFW_FACE_PX``
(Lanczos, PIL, which filters over the shrink's support), then decoded, detected, aligned, checked
and embedded as any photo. Each image's own face varies around the reference (HOG: 90 to 130 px
at full size), and what a detector reports at ``S`` varies more: the curve gives the median
reported box beside ``S``.

**Gates off.** The curve is measured with ``min_face_size_px``, ``min_sharpness`` and
``min_detector_score`` at 0, so that the face nearest the centre is embedded whatever its size
or blur; the evaluation's own fallback applies (nothing detected: the central region is
embedded, a failure to enrol). Each figure also gives the share of downscaled photos whose face
the gates given would have indexed, so that a gate's cost in faces shows beside its gain.

**Modes.** ``one``: the second photo of each pair is downscaled, the first kept at full size (a
good reference and a small probe: the search case); ``both``: both photos downscaled.
``full``: neither (the reference figure). An image embedded at ``S`` is cached under a
signature holding the downscale (``Downscale.tag``), so it never stands for the full-size one.
"""

from __future__ import annotations

import json
import os
import platform
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from facelens.config import Settings
from facelens.errors import InvalidArgumentError
from facelens.evaluation import metrics
from facelens.evaluation.embeddings import (
    BenchmarkEmbedding,
    EmbeddingCache,
    embed_images,
)
from facelens.evaluation.lfw import VIEW1_TEST, VIEW1_TRAIN, VIEW2_PAIRS, LfwDataset, Pair
from facelens.evaluation.run import pair_images, pair_scores, verification
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.decode import RgbImage

#: Mean short side of HOG's box (1 upsampling) on 600 seeded LFW photos at full size, px.
LFW_FACE_PX = 104.0
SIZES_PX = (20, 24, 32, 40, 48, 64)
FULL = "full"
MODES = ("one", "both")
PROTOCOLS = ("view2", "view1")
TARGET_FAR = 1e-3
FOLDS = 10
#: The quality gates, opened for the curve and applied again to say what they would index.
GATES = ("min_face_size_px", "min_sharpness", "min_detector_score")
#: Fewest pairs an accuracy over the pairs with faces found is given for.
MIN_PAIRS = 100
Size = int | str  # a face size in px, or FULL
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class Downscale:
    """The photo scaled by ``face_px / reference_face_px`` (Lanczos), so its face is about
    ``face_px``; never enlarged."""

    face_px: float
    reference_face_px: float = LFW_FACE_PX

    def __post_init__(self) -> None:
        if not 0 < self.face_px < self.reference_face_px:
            raise InvalidArgumentError(
                f"a face size of {self.face_px:g} px: choose one above 0 and below the "
                f"reference face size, {self.reference_face_px:g} px"
            )

    @property
    def scale(self) -> float:
        return self.face_px / self.reference_face_px

    @property
    def tag(self) -> str:
        return f"downscale:face={self.face_px:g}px:reference={self.reference_face_px:g}px:lanczos"

    def __call__(self, image: RgbImage) -> RgbImage:
        height, width = image.shape[:2]
        size = (max(1, round(width * self.scale)), max(1, round(height * self.scale)))
        resized = Image.fromarray(image).resize(size, Image.Resampling.LANCZOS)
        out: RgbImage = np.asarray(resized)
        return out


@dataclass(frozen=True, slots=True)
class FaceSizeOptions:
    root: Path
    cache_path: Path
    workers: int
    sizes: Sequence[Size] = (*SIZES_PX, FULL)
    modes: Sequence[str] = MODES
    protocol: str = "view2"
    #: A seeded subset of this many pairs, the same share from each fold and class; None: all.
    max_pairs: int | None = None
    seed: int = 0


def parse_size(text: str) -> Size:
    """``"32"`` -> 32, ``"full"`` -> FULL; anything else is refused."""
    if text == FULL:
        return FULL
    if not text.isdigit() or not 0 < int(text) < LFW_FACE_PX:
        raise InvalidArgumentError(
            f"face size {text!r}: give whole pixels between 1 and {LFW_FACE_PX - 1:g}, or {FULL}"
        )
    return int(text)


def gates_off(settings: Settings) -> Settings:
    """``settings`` with the quality gates open: every face found is embedded."""
    # Typed as the fields are (0.0, not 0): the values go into the cache signature's JSON.
    return settings.model_copy(
        update={"min_face_size_px": 0, "min_sharpness": 0.0, "min_detector_score": 0.0}
    )


def protocol_pairs(dataset: LfwDataset, protocol: str) -> list[Pair]:
    """View 2's 6,000 pairs with their folds; or View 1's 3,200 (train, then test) with folds
    ``i % 10`` by position, as ``evaluate_lfw`` scores them for its 10-fold figure."""
    if protocol == "view2":
        return dataset.pairs(VIEW2_PAIRS)
    if protocol == "view1":
        pairs = dataset.pairs(VIEW1_TRAIN) + dataset.pairs(VIEW1_TEST)
        return [Pair(p.image_a, p.image_b, p.same, i % FOLDS) for i, p in enumerate(pairs)]
    raise InvalidArgumentError(f"unknown protocol {protocol!r}; choose from {PROTOCOLS}")


def select_pairs(pairs: list[Pair], max_pairs: int | None, seed: int) -> list[Pair]:
    """About ``max_pairs`` pairs: ``max_pairs // groups`` (at least one) drawn with ``seed`` from
    each (fold, same) group, kept in their original order; all of them when ``max_pairs`` is
    None or not fewer than the pairs."""
    if max_pairs is None or max_pairs >= len(pairs):
        return pairs
    groups: dict[tuple[int, bool], list[int]] = {}
    for i, pair in enumerate(pairs):
        groups.setdefault((pair.fold, pair.same), []).append(i)
    per_group = max(1, max_pairs // len(groups))
    rng = random.Random(seed)
    kept = {i for members in groups.values() for i in rng.sample(members, per_group)}
    return [pair for i, pair in enumerate(pairs) if i in kept]


def face_size_curve(
    settings: Settings, options: FaceSizeOptions, progress: Progress | None = None
) -> dict[str, Any]:
    """Accuracy and TAR at FAR 1e-3 for each face size and mode, as a JSON-ready dict."""
    unknown = sorted(set(options.modes) - set(MODES))
    if unknown:
        raise InvalidArgumentError(f"unknown mode {unknown}; choose from {', '.join(MODES)}")
    started = time.perf_counter()
    dataset = LfwDataset(options.root)
    pairs = select_pairs(protocol_pairs(dataset, options.protocol), options.max_pairs, options.seed)
    measured = gates_off(settings)
    model = FacePipeline(measured).model
    cache = EmbeddingCache(options.cache_path)
    timing: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    try:

        def embed(size: Size, relative: list[str]) -> dict[str, BenchmarkEmbedding]:
            step = time.perf_counter()
            embedded = embed_images(
                [dataset.path(r) for r in relative],
                measured,
                cache,
                workers=options.workers,
                progress=(lambda d, t: progress(str(size) if size == FULL else f"{size} px", d, t))
                if progress
                else None,
                transform=None if size == FULL else Downscale(float(size)),
            )
            timing[f"embed_{size}"] = round(time.perf_counter() - step, 1)
            return {r: embedded[dataset.path(r)] for r in relative}

        full = (
            embed(FULL, pair_images(pairs))
            if FULL in options.sizes or "one" in options.modes
            else {}
        )
        if FULL in options.sizes:
            rows.append(_row(FULL, FULL, pairs, full, full, settings))
        seconds = sorted({p.image_b for p in pairs})
        for size in sorted((s for s in options.sizes if s != FULL), key=int, reverse=True):
            wanted = pair_images(pairs) if "both" in options.modes else seconds
            small = embed(size, wanted)
            for mode in (m for m in MODES if m in options.modes):
                firsts = full if mode == "one" else small
                rows.append(_row(size, mode, pairs, firsts, small, settings))
    finally:
        cache.close()
    return {
        "benchmark": "face_size",
        "dataset": str(options.root),
        "protocol": options.protocol,
        "pairs": len(pairs),
        "max_pairs": options.max_pairs,
        "seed": options.seed,
        "model": str(model),
        "settings": _described(settings, measured),
        "downscale": {
            "reference_face_px": LFW_FACE_PX,
            "resample": "lanczos (PIL)",
            "rule": "the whole photo scaled by face_px / reference_face_px",
            "modes": {
                "one": "the second photo of each pair downscaled, the first at full size",
                "both": "both photos downscaled",
                "full": "neither",
            },
        },
        "environment": environment(options.workers),
        "rows": rows,
        "timing_s": timing,
        "images_embedded": cache.misses,
        "images_from_cache": cache.hits,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


def _row(
    size: Size,
    mode: str,
    pairs: list[Pair],
    firsts: dict[str, BenchmarkEmbedding],
    seconds: dict[str, BenchmarkEmbedding],
    gates: Settings,
) -> dict[str, Any]:
    """One point of the curve. Detection figures are over the photos that were downscaled
    (the second photos in mode ``one``; all in the others). ``accuracy_detected`` is over the
    pairs whose downscaled photos all had a face found (the others were scored on the central
    fallback, which LFW's centred faces flatter: a search finds nothing there)."""
    scores = pair_scores(pairs, firsts, seconds)
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    folded = metrics.folded_accuracy(scores, same, folds)
    detected = np.array(
        [
            seconds[p.image_b].faces_found > 0
            and (mode == "one" or firsts[p.image_a].faces_found > 0)
            for p in pairs
        ],
        dtype=bool,
    )
    folded_detected = _folded_if_enough(scores[detected], same[detected], folds[detected])
    verified = verification(scores, same)
    [at_far] = [p for p in verified["tar_at_far"] if p["target_far"] == TARGET_FAR]
    names = sorted({p.image_b for p in pairs}) if mode == "one" else pair_images(pairs)
    shown = [seconds[n] for n in names]
    found = [e for e in shown if e.faces_found > 0]
    boxes = [e.size_px for e in found if e.size_px is not None]
    counts = Counter(round(px) for px in boxes)
    return {
        "size": size,
        "mode": mode,
        "accuracy": round(folded.mean, 6),
        "accuracy_std": round(folded.std, 6),
        "folds": len(folded.fold_accuracies),
        "tar_at_far_1e-3": at_far["tar"],
        "threshold_at_far_1e-3": at_far["threshold"],
        "roc_auc": verified["roc_auc"],
        "eer": verified["eer"],
        "pairs_detected": int(detected.sum()),
        "accuracy_detected": None if folded_detected is None else round(folded_detected.mean, 6),
        "photos_measured": len(shown),
        "detected_share": round(len(found) / len(shown), 6),
        "box_px_median": float(np.median(boxes)) if boxes else None,
        "box_px_p10": float(np.percentile(boxes, 10)) if boxes else None,
        "box_px_p90": float(np.percentile(boxes, 90)) if boxes else None,
        "box_px_counts": {str(px): counts[px] for px in sorted(counts)},
        "indexed_by_gates_share": round(sum(_passes(e, gates) for e in shown) / len(shown), 6),
        "passes_each_gate_share": {
            gate: round(sum(_passes(e, gates, only=gate) for e in shown) / len(shown), 6)
            for gate in GATES
        },
    }


def _folded_if_enough(
    scores: np.ndarray, same: np.ndarray, folds: np.ndarray
) -> metrics.FoldedAccuracy | None:
    """The folded accuracy, or None for fewer than ``MIN_PAIRS`` pairs or a fold whose others
    lack a class (no threshold can be chosen there)."""
    if len(scores) < MIN_PAIRS:
        return None
    for fold in np.unique(folds):
        others = same[folds != fold]
        if others.all() or not others.any():
            return None
    return metrics.folded_accuracy(scores, same, folds)


def _passes(embedding: BenchmarkEmbedding, gates: Settings, only: str | None = None) -> bool:
    """Whether the gates of ``gates`` (or only the one named) would have indexed the embedded
    face; a photo with no face found never passes."""
    if embedding.size_px is None or embedding.sharpness is None or embedding.score is None:
        return False
    measured = {
        "min_face_size_px": embedding.size_px,
        "min_sharpness": embedding.sharpness,
        "min_detector_score": embedding.score,
    }
    return all(measured[gate] >= getattr(gates, gate) for gate in GATES if only in (None, gate))


def _described(settings: Settings, measured: Settings) -> dict[str, Any]:
    return {
        "detector": measured.detector,
        "detect_upsample_times": measured.detect_upsample_times,
        "embedder": measured.embedder,
        "chip_padding": measured.chip_padding,
        "embed_flip_average": measured.embed_flip_average,
        "embed_jitters": measured.embed_jitters,
        "measured_with_gates": {
            "min_face_size_px": measured.min_face_size_px,
            "min_sharpness": measured.min_sharpness,
            "min_detector_score": measured.min_detector_score,
        },
        "indexed_by_gates": {
            "min_face_size_px": settings.min_face_size_px,
            "min_sharpness": settings.min_sharpness,
            "min_detector_score": settings.min_detector_score,
        },
    }


#: What each row of the curve holds (the report and the docs read these).
ROW_KEYS = frozenset(
    {"size", "mode", "accuracy", "accuracy_std", "tar_at_far_1e-3", "detected_share",
     "box_px_median", "accuracy_detected", "indexed_by_gates_share"}
)  # fmt: skip


def load_curve(path: Path) -> dict[str, Any]:
    """A curve written by ``bench/face_size.py``, checked for what the report reads."""
    try:
        curve = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidArgumentError(f"{path}: cannot read a face size curve ({exc})") from exc
    rows = curve.get("rows") if isinstance(curve, dict) else None
    if (
        not isinstance(curve, dict)
        or curve.get("benchmark") != "face_size"
        or not isinstance(rows, list)
        or not all(isinstance(r, dict) and set(r) >= ROW_KEYS for r in rows)
    ):
        raise InvalidArgumentError(
            f"{path} is not a face size curve: expected the JSON bench/face_size.py writes"
        )
    return curve


def environment(workers: int) -> dict[str, Any]:
    """The machine and the versions of what the figures depend on."""
    versions: dict[str, str | None] = {}
    for package in ("numpy", "pillow", "dlib", "onnxruntime"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpus": os.cpu_count() or 1,
        "workers": workers,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
    }
