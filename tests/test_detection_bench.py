"""The detection benchmark's parts (bench/mosaics.py): the mosaic builder puts each face where
its ground truth says, and the matching, recall and per-megapixel arithmetic is right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.mosaics import (
    BANDS,
    ReferenceFace,
    band_of,
    build_mosaic,
    cover,
    crops_without,
    face_sizes,
    iou,
    match,
    per_megapixel,
    recall_by_band,
    recall_where,
    reference_face,
    resize,
    skimage_image,
)
from facelens.config import Settings
from facelens.pipeline.detect import create_detector


def rgb(path: Path, longest_side: int) -> np.ndarray:
    """A photo shrunk to about LFW's size, so that its face is about LFW's 100 px."""
    image = Image.open(path).convert("RGB")
    image.thumbnail((longest_side, longest_side), Image.Resampling.LANCZOS)
    return np.asarray(image)


@pytest.fixture(scope="module")
def sources(photos: Path, grace_hopper: Path) -> list[ReferenceFace]:
    detector = create_detector(Settings(detector="hog", detect_upsample_times=1))
    found = [
        reference_face(detector, path.name, rgb(path, 400), min_score=0.5)
        for path in (photos / "obama.jpg", photos / "biden.jpg", grace_hopper)
    ]
    assert all(face is not None for face in found), "each sample photo has one clear face"
    return [face for face in found if face is not None]


def test_given_a_mosaic_of_three_large_faces_then_hog_finds_each_where_its_truth_says(
    sources: list[ReferenceFace],
) -> None:
    canvas = cover(skimage_image("coffee"), 1000, 800)
    mosaic = build_mosaic(sources, [70.0, 90.0, 120.0], canvas, "coffee", np.random.default_rng(7))
    assert sorted(round(f.size_px) for f in mosaic.faces) == [70, 90, 120]
    detector = create_detector(Settings(detector="hog", detect_upsample_times=1))
    boxes: list[tuple[float, float, float, float]] = [
        (float(d.box.x1), float(d.box.y1), float(d.box.x2), float(d.box.y2))
        for d in detector.detect(mosaic.image)
    ]
    truths = [face.box for face in mosaic.faces]
    matched = match(boxes, truths)
    assert all(m is not None for m in matched), [max(iou(b, t) for b in boxes) for t in truths]
    assert len(boxes) == 3, "no detection on the coffee background or off a face"
    for face in mosaic.faces:
        # The face box lies inside its tile, and the tile holds the source photo, resized.
        x1, y1, x2, y2 = map(int, face.tile)
        assert x1 <= face.box[0] < face.box[2] <= x2 and y1 <= face.box[1] < face.box[3] <= y2
        source = next(s for s in sources if s.label == face.source)
        assert np.array_equal(mosaic.image[y1:y2, x1:x2], resize(source.image, x2 - x1, y2 - y1))


def test_given_the_same_seed_then_the_same_mosaic_and_tiles_never_overlap(
    sources: list[ReferenceFace],
) -> None:
    canvas = np.full((600, 800, 3), 128, np.uint8)
    sizes = [40.0, 60.0, 80.0]
    first = build_mosaic(sources, sizes, canvas, "grey", np.random.default_rng(3))
    again = build_mosaic(sources, sizes, canvas, "grey", np.random.default_rng(3))
    assert np.array_equal(first.image, again.image)
    assert [f.tile for f in first.faces] == [f.tile for f in again.faces]
    tiles = [f.tile for f in first.faces]
    assert all(iou(a, b) == 0 for i, a in enumerate(tiles) for b in tiles[i + 1 :])
    with pytest.raises(ValueError, match="does not fit"):
        build_mosaic(sources[:1], [400.0], canvas[:300, :300], "grey", np.random.default_rng(0))


def test_given_hand_made_boxes_then_matching_is_one_to_one_greedy_by_iou_at_0_4() -> None:
    truths = [(0.0, 0.0, 10.0, 10.0), (100.0, 100.0, 110.0, 110.0), (200.0, 0.0, 210.0, 10.0)]
    detections = [
        (1.0, 0.0, 11.0, 10.0),  # IoU 9/11 with truth 0
        (0.0, 0.0, 10.0, 10.0),  # IoU 1 with truth 0: matched first, so the other is spare
        (100.0, 100.0, 110.0, 114.0),  # IoU 100/140 = 0.714 with truth 1
        (200.0, 0.0, 210.0, 25.0),  # IoU 100/250 = 0.4 exactly with truth 2: matches
        (500.0, 500.0, 510.0, 510.0),  # on no face
    ]
    assert iou(detections[0], truths[0]) == pytest.approx(9 / 11)
    assert iou(detections[3], truths[2]) == pytest.approx(0.4)
    assert iou(truths[0], truths[1]) == 0.0
    assert match(detections, truths) == [1, 2, 3]
    assert match(detections, truths, threshold=0.41) == [1, 2, None]
    assert match([], truths) == [None, None, None]
    # One detection between two faces goes to the one it overlaps most, never to both.
    assert match([(0.0, 0.0, 10.0, 12.0)], [(0.0, 0.0, 10.0, 10.0), (0.0, 2.0, 10.0, 12.0)]) == [
        0,
        None,
    ]


def test_given_sizes_and_hits_then_recall_by_band_and_false_per_megapixel_add_up() -> None:
    sizes = [16.0, 19.9, 20.0, 31.9, 32.0, 100.0, 159.9, 160.0, 10.0]
    found = [True, False, True, False, True, True, False, True, True]
    table = recall_by_band(sizes, found)
    assert list(table) == list(BANDS)
    assert table["16-20"] == {"faces": 2, "found": 1, "recall": 0.5}
    assert table["20-24"] == {"faces": 1, "found": 1, "recall": 1.0}
    assert table["24-32"] == {"faces": 1, "found": 0, "recall": 0.0}
    assert table["40-48"] == {"faces": 0, "found": 0, "recall": None}
    assert table["96-160"] == {"faces": 2, "found": 1, "recall": 0.5}
    assert sum(row["faces"] for row in table.values()) == 7  # 160 and 10 px are in no band
    assert band_of(160.0) is None and band_of(15.99) is None and band_of(32.0) == "32-40"
    assert recall_where(sizes, found, 32) == (3, 4)  # 32, 100, 159.9, 160 px
    assert recall_where(sizes, found, 24, 32) == (0, 1)
    assert per_megapixel(3, 1_500_000) == pytest.approx(2.0)
    assert 10 * per_megapixel(1, 40_000_000) == pytest.approx(0.25)


def test_given_a_face_box_then_the_crops_keep_clear_of_it() -> None:
    image = np.arange(100 * 200).reshape(100, 200).astype(np.uint8)
    image = np.stack([image] * 3, axis=-1)
    crops = crops_without(image, (80.0, 10.0, 120.0, 50.0), margin=0.5, min_side_px=20)
    # Grown by 20 px each side: x 60-140, bottom edge y 70. Below: 30 rows; left, right: 60 px.
    assert [c.shape[:2] for c in crops] == [(30, 200), (70, 60), (70, 60)]
    assert sum(c.shape[0] * c.shape[1] for c in crops) <= 100 * 200 - 80 * 70


def test_given_many_faces_then_bands_take_turns_and_sizes_stay_in_their_band() -> None:
    sizes = face_sizes(16, 0, np.random.default_rng(0)) + face_sizes(
        16, 16, np.random.default_rng(1)
    )
    bands = [band_of(size) for size in sizes]
    assert bands == list(BANDS) * 4
