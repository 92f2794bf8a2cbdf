"""The parts of the detection benchmark (``bench/detection.py``) that a test can check alone:
reference face boxes, face-free images, seeded mosaics with their ground truth, box matching
and the recall and per-megapixel arithmetic.

Boxes are ``(x1, y1, x2, y2)`` in pixels, x2 and y2 exclusive (facelens's ``Box`` convention),
as floats. A face's size is the short side of its box, the measure of the quality gate's
``min_face_size_px`` (``facelens.pipeline.quality.assess`` reads ``Box.short_side``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from facelens.pipeline.detect import Detector

FloatBox = tuple[float, float, float, float]
Rgb = np.ndarray  # (H, W, 3) uint8

#: Face size bands, px on the short side of the box: [16, 20), [20, 24), ... [96, 160).
BAND_EDGES_PX: tuple[int, ...] = (16, 20, 24, 32, 40, 48, 64, 96, 160)

#: A detection and a ground-truth face are the same face at this IoU or more.
IOU_MATCH = 0.4

#: scikit-image's sample images without a human face (``camera``, ``astronaut`` and
#: ``lbp_frontal_face`` have one; ``lfw_subset`` is faces). Synthetic ones are left out.
FACE_FREE_SKIMAGE = (
    "coffee", "chelsea", "rocket", "coins", "brick", "grass", "gravel", "moon", "clock",
    "hubble_deep_field", "immunohistochemistry", "retina", "cell", "page", "text",
)  # fmt: skip

#: Mosaic canvases (width, height), taken in turn: 1.2 to 3 megapixels, the long side within
#: facelens's default ``detect_max_side_px`` (2000), so detection sees the mosaic's own pixels.
CANVAS_SIZES: tuple[tuple[int, int], ...] = ((1280, 960), (1600, 1200), (2000, 1125), (2000, 1500))


def band_name(low: int, high: int) -> str:
    return f"{low}-{high}"


BANDS: tuple[str, ...] = tuple(band_name(a, b) for a, b in pairwise(BAND_EDGES_PX))


def band_of(size_px: float, edges: Sequence[int] = BAND_EDGES_PX) -> str | None:
    """The band ``[low, high)`` holding ``size_px``, or None outside every band."""
    for low, high in pairwise(edges):
        if low <= size_px < high:
            return band_name(low, high)
    return None


def short_side(box: FloatBox) -> float:
    return min(box[2] - box[0], box[3] - box[1])


def iou(a: FloatBox, b: FloatBox) -> float:
    """Intersection over union of two boxes (0 when they do not overlap)."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def match(
    detections: Sequence[FloatBox], truths: Sequence[FloatBox], threshold: float = IOU_MATCH
) -> list[int | None]:
    """For each ground-truth box, the index of the detection matched to it, or None.

    One to one, greedy by IoU: the pair with the highest IoU is matched first, then the next
    pair whose detection and truth are both free, down to ``threshold`` (inclusive)."""
    pairs = sorted(
        (
            (-iou(d, t), ti, di)
            for ti, t in enumerate(truths)
            for di, d in enumerate(detections)
            if iou(d, t) >= threshold
        ),
    )
    matched: list[int | None] = [None] * len(truths)
    used: set[int] = set()
    for _, ti, di in pairs:
        if matched[ti] is None and di not in used:
            matched[ti] = di
            used.add(di)
    return matched


def best_iou(truth: FloatBox, detections: Sequence[FloatBox]) -> float:
    return max((iou(d, truth) for d in detections), default=0.0)


def recall_by_band(
    sizes_px: Sequence[float], found: Sequence[bool], edges: Sequence[int] = BAND_EDGES_PX
) -> dict[str, dict[str, Any]]:
    """``{band: {"faces": n, "found": k, "recall": k / n}}`` for every band (recall None when
    the band has no face); faces outside every band are left out."""
    table: dict[str, dict[str, Any]] = {
        band_name(a, b): {"faces": 0, "found": 0} for a, b in pairwise(edges)
    }
    for size, hit in zip(sizes_px, found, strict=True):
        band = band_of(size, edges)
        if band is not None:
            table[band]["faces"] += 1
            table[band]["found"] += int(hit)
    for row in table.values():
        row["recall"] = row["found"] / row["faces"] if row["faces"] else None
    return table


def recall_where(
    sizes_px: Sequence[float], found: Sequence[bool], low: float, high: float = math.inf
) -> tuple[int, int]:
    """(found, faces) among faces with ``low <= size < high``."""
    rows = [hit for size, hit in zip(sizes_px, found, strict=True) if low <= size < high]
    return sum(rows), len(rows)


def per_megapixel(count: int, pixels: int) -> float:
    """``count`` events over ``pixels`` pixels, per million pixels."""
    return count / (pixels / 1e6)


# --- images --------------------------------------------------------------------------------


def as_rgb(array: np.ndarray) -> Rgb:
    """A scikit-image sample as (H, W, 3) uint8: grey stacked, alpha dropped, bool and float
    scaled to 0-255."""
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    elif array.dtype != np.uint8:
        array = np.clip(array * 255.0, 0, 255).astype(np.uint8)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return np.ascontiguousarray(array[..., :3])


def skimage_image(name: str) -> Rgb:
    from skimage import data

    return as_rgb(getattr(data, name)())


def resize(image: Rgb, width: int, height: int) -> Rgb:
    """Lanczos resampling (anti-aliased when shrinking), as a photo editor would."""
    pil = Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(pil)


def scaled_to_megapixels(image: Rgb, megapixels: float, max_side_px: int) -> Rgb:
    """``image`` resized, aspect kept, to about ``megapixels``, its long side at most
    ``max_side_px``."""
    height, width = image.shape[:2]
    scale = math.sqrt(megapixels * 1e6 / (width * height))
    scale = min(scale, max_side_px / max(width, height))
    return resize(image, round(width * scale), round(height * scale))


def cover(image: Rgb, width: int, height: int) -> Rgb:
    """``image`` scaled to cover ``width`` x ``height``, then cropped to it, centred."""
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    big = resize(image, max(width, math.ceil(w * scale)), max(height, math.ceil(h * scale)))
    top = (big.shape[0] - height) // 2
    left = (big.shape[1] - width) // 2
    return np.ascontiguousarray(big[top : top + height, left : left + width])


def crops_without(image: Rgb, box: FloatBox, margin: float, min_side_px: int) -> list[Rgb]:
    """The parts of ``image`` clear of ``box`` grown by ``margin`` (a share of its size) on
    every side, as three non-overlapping crops: below it (full width), left of it and right
    of it (above its bottom edge); crops under ``min_side_px`` on a side are dropped."""
    height, width = image.shape[:2]
    grow_x = (box[2] - box[0]) * margin
    grow_y = (box[3] - box[1]) * margin
    left = max(0, math.floor(box[0] - grow_x))
    right = min(width, math.ceil(box[2] + grow_x))
    bottom = min(height, math.ceil(box[3] + grow_y))
    parts = [image[bottom:, :], image[:bottom, :left], image[:bottom, right:]]
    return [np.ascontiguousarray(p) for p in parts if min(p.shape[:2], default=0) >= min_side_px]


# --- reference faces and mosaics -------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceFace:
    """A source photo with exactly one confident face, and that face's box in its pixels."""

    label: str
    image: Rgb
    box: FloatBox
    score: float


def reference_face(
    detector: Detector, label: str, image: Rgb, min_score: float
) -> ReferenceFace | None:
    """The photo's one face as ``detector`` finds it, or None unless it finds exactly one
    face (at its own threshold) and that one scores at least ``min_score``."""
    found = detector.detect(image)
    if len(found) != 1 or found[0].score < min_score:
        return None
    x1, y1, x2, y2 = found[0].box.as_tuple()
    return ReferenceFace(label, image, (x1, y1, x2, y2), found[0].score)


@dataclass(frozen=True)
class PlacedFace:
    """One face of a mosaic: where its tile went, its box there and its size."""

    source: str
    tile: FloatBox
    box: FloatBox
    size_px: float
    band: str | None


@dataclass
class Mosaic:
    image: Rgb
    background: str
    faces: list[PlacedFace] = field(default_factory=list)

    @property
    def pixels(self) -> int:
        return int(self.image.shape[0] * self.image.shape[1])


def face_sizes(count: int, first: int, rng: np.random.Generator) -> list[float]:
    """``count`` face sizes, px: face number ``first + i`` is in band ``(first + i) % bands``
    (so bands are balanced over mosaics), uniform within its band but half a pixel clear of
    its edges, so that rounding the tile to whole pixels cannot move a face to the next band."""
    edges = BAND_EDGES_PX
    sizes = []
    for i in range(count):
        band = (first + i) % (len(edges) - 1)
        sizes.append(float(rng.uniform(edges[band] + 0.5, edges[band + 1] - 0.5)))
    return sizes


def build_mosaic(
    faces: Sequence[ReferenceFace],
    sizes_px: Sequence[float],
    canvas: Rgb,
    background: str,
    rng: np.random.Generator,
    *,
    margin_px: int = 8,
    tries: int = 5000,
) -> Mosaic:
    """Each whole source photo (its background too) scaled so that its face is the size
    asked, and pasted on a copy of ``canvas`` where it overlaps no other tile, nor comes
    within ``margin_px`` of one or of the edge; largest first. Ground truth: the reference
    box, scaled and moved with its photo."""
    if len(faces) != len(sizes_px):
        raise ValueError(f"{len(faces)} faces but {len(sizes_px)} sizes")
    image = canvas.copy()
    height, width = image.shape[:2]
    placed: list[tuple[int, int, int, int]] = []
    result = Mosaic(image, background)
    order = sorted(range(len(faces)), key=lambda i: -sizes_px[i])
    for i in order:
        face, size = faces[i], sizes_px[i]
        h, w = face.image.shape[:2]
        scale = size / short_side(face.box)
        tw, th = max(1, round(w * scale)), max(1, round(h * scale))
        if tw + 2 * margin_px > width or th + 2 * margin_px > height:
            raise ValueError(f"a {tw}x{th} tile does not fit a {width}x{height} canvas")
        for _ in range(tries):
            x = int(rng.integers(margin_px, width - tw - margin_px + 1))
            y = int(rng.integers(margin_px, height - th - margin_px + 1))
            if all(
                x + tw + margin_px <= a
                or a2 + margin_px <= x
                or y + th + margin_px <= b
                or b2 + margin_px <= y
                for a, b, a2, b2 in placed
            ):
                break
        else:
            raise ValueError(
                f"no room for {len(faces)} faces on a {width}x{height} canvas: "
                "use fewer faces per mosaic"
            )
        placed.append((x, y, x + tw, y + th))
        image[y : y + th, x : x + tw] = resize(face.image, tw, th)
        sx, sy = tw / w, th / h
        box = (
            x + face.box[0] * sx,
            y + face.box[1] * sy,
            x + face.box[2] * sx,
            y + face.box[3] * sy,
        )
        size_px = short_side(box)
        result.faces.append(
            PlacedFace(face.label, (x, y, x + tw, y + th), box, size_px, band_of(size_px))
        )
    return result


def canvas_for(index: int, backgrounds: Sequence[tuple[str, Rgb]], grey: bool) -> tuple[str, Rgb]:
    """Mosaic ``index``'s canvas: its size from ``CANVAS_SIZES`` in turn, covered by the
    face-free image ``backgrounds[index % len]``, or flat mid-grey when ``grey``."""
    width, height = CANVAS_SIZES[index % len(CANVAS_SIZES)]
    if grey:
        return "grey", np.full((height, width, 3), 128, np.uint8)
    name, source = backgrounds[index % len(backgrounds)]
    return name, cover(source, width, height)


def lfw_paths(root: Path) -> list[Path]:
    """Every LFW photo, ``images/<Name>/<Name>_NNNN.jpg``, sorted."""
    return sorted((root / "images").glob("*/*.jpg"))


def load_rgb(path: Path) -> Rgb:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))
