"""The face size curve (bench/face_size.py over facelens/evaluation/face_size.py) on real LFW
photos, read in place and skipped when absent: a photo downscaled for ``S`` px shows HOG a face
of about ``S`` px, each size has its own cache key, and the bench writes the JSON the docs and
``facelens eval lfw --face-size-json`` read."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from bench import face_size as bench
from facelens.cli.main import app
from facelens.config import Settings
from facelens.errors import InvalidArgumentError
from facelens.evaluation.embeddings import EmbeddingCache, embed_images, pipeline_signature
from facelens.evaluation.face_size import (
    GATES,
    LFW_FACE_PX,
    ROW_KEYS,
    Downscale,
    gates_off,
    parse_size,
    select_pairs,
)
from facelens.evaluation.lfw import LfwDataset, Pair
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.detect import Detector, create_detector

runner = CliRunner()

#: The first people of View 2's first fold of same-person pairs, two photos each.
PHOTOS = [
    "images/Abel_Pacheco/Abel_Pacheco_0001.jpg",
    "images/Abel_Pacheco/Abel_Pacheco_0004.jpg",
    "images/Akhmed_Zakayev/Akhmed_Zakayev_0001.jpg",
    "images/Akhmed_Zakayev/Akhmed_Zakayev_0003.jpg",
    "images/Amber_Tamblyn/Amber_Tamblyn_0001.jpg",
    "images/Amber_Tamblyn/Amber_Tamblyn_0002.jpg",
]


def central_box_px(image: np.ndarray, detector: Detector) -> float:
    """The short side of the box nearest the centre (what min_face_size_px measures)."""
    found = detector.detect(image)
    assert found, "HOG finds the face"
    height, width = image.shape[:2]
    face = min(
        found,
        key=lambda d: (d.box.centre[0] - width / 2) ** 2 + (d.box.centre[1] - height / 2) ** 2,
    )
    return float(face.box.short_side)


def test_given_a_photo_downscaled_for_64_px_then_hog_finds_a_face_of_about_64_px(
    lfw: Path,
) -> None:
    detector = create_detector(Settings(detector="hog", detect_upsample_times=1))
    shrink = Downscale(64)
    ratios, boxes = [], []
    for relative in PHOTOS:
        image = np.asarray(Image.open(lfw / relative).convert("RGB"))
        small = shrink(image)
        assert small.shape == (round(250 * 64 / LFW_FACE_PX), round(250 * 64 / LFW_FACE_PX), 3)
        full_px, small_px = central_box_px(image, detector), central_box_px(small, detector)
        boxes.append(small_px)
        ratios.append(small_px / full_px)
    # HOG's boxes come in steps of 1.2, so one photo's face may land a step either way, at
    # full size and again at 64 px: the box shrinks by the scale, give or take two steps.
    assert all(48 <= px <= 80 for px in boxes), boxes
    assert 56 <= float(np.median(boxes)) <= 72, boxes
    assert all(abs(np.log(r / shrink.scale)) <= np.log(1.2**2) for r in ratios), ratios


def test_given_face_sizes_outside_the_photo_then_they_are_refused() -> None:
    assert parse_size("32") == 32 and parse_size("full") == "full"
    for text in ("0", "104", "250", "abc", "-5", "3.5"):
        with pytest.raises(InvalidArgumentError):
            parse_size(text)
    with pytest.raises(InvalidArgumentError, match="below the reference"):
        Downscale(LFW_FACE_PX)
    assert Downscale(20)(np.zeros((250, 250, 3), np.uint8)).shape == (48, 48, 3)


def test_given_two_face_sizes_then_their_embeddings_are_cached_apart(
    lfw: Path, tmp_path: Path
) -> None:
    settings = gates_off(Settings())
    pipeline = FacePipeline(settings)
    keys = {pipeline_signature(settings, pipeline, t) for t in (None, Downscale(32), Downscale(64))}
    assert len(keys) == 3
    # The open gates are typed as their fields, so their signature is that of settings built
    # with them (a cache written by the bench is found again by a validated rerun).
    built = Settings(min_face_size_px=0, min_sharpness=0, min_detector_score=0)
    assert pipeline_signature(built, pipeline) == pipeline_signature(settings, pipeline)
    paths = [lfw / p for p in PHOTOS[:2]]
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    by_size = {
        size: embed_images(
            paths, settings, cache, workers=1, transform=None if size == 0 else Downscale(size)
        )
        for size in (0, 32, 64)
    }
    assert (cache.misses, cache.hits) == (6, 0)
    again = embed_images(paths, settings, cache, workers=1, transform=Downscale(32))
    assert (cache.misses, cache.hits) == (6, 2)
    cache.close()
    for path in paths:
        full, small = by_size[0][path], by_size[32][path]
        assert np.array_equal(again[path].vector, small.vector)
        assert float(full.vector @ small.vector) < 0.9999, "a different image, embedded apart"
        small_px, middle_px, full_px = (by_size[s][path].size_px or 0.0 for s in (32, 64, 0))
        assert 0 < small_px < middle_px < full_px, "the box shrinks with the photo"
        assert again[path].size_px == small.size_px and again[path].score == small.score


def test_given_a_cache_written_before_face_sizes_were_kept_then_its_rows_still_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE embeddings (sha256 TEXT, signature TEXT, vector BLOB, "
            "outcome TEXT, faces_found INTEGER, PRIMARY KEY (sha256, signature))"
        )
        vector = np.arange(4, dtype="<f4")
        db.execute("INSERT INTO embeddings VALUES ('a', 's', ?, 'face', 1)", (vector.tobytes(),))
    cache = EmbeddingCache(path)
    old = cache.get("a", "s")
    assert old is not None and old.outcome == "face" and old.size_px is None
    assert np.array_equal(old.vector, vector)
    cache.close()


def test_given_view_2_pairs_then_the_subset_is_seeded_and_even_over_folds_and_classes() -> None:
    pairs = [Pair(f"a{i}", f"b{i}", i % 600 < 300, i // 600) for i in range(6000)]
    subset = select_pairs(pairs, 200, seed=1)
    assert len(subset) == 200 and subset == select_pairs(pairs, 200, seed=1)
    assert subset != select_pairs(pairs, 200, seed=2)
    counts = {(f, s): 0 for f in range(10) for s in (True, False)}
    for pair in subset:
        counts[(pair.fold, pair.same)] += 1
    assert set(counts.values()) == {10}
    assert subset == sorted(subset, key=pairs.index), "kept in their own order"
    assert select_pairs(pairs, None, seed=0) is pairs


@pytest.fixture(scope="module")
def curve_json(lfw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("face-size")
    args = ["--lfw", str(lfw), "--max-pairs", "20", "--sizes", "32", "full", "--workers", "1"]
    args += ["--cache", str(out / "cache.sqlite"), "--out", str(out / "curve.json")]
    assert bench.main([*args, "--plot", str(out / "curve.png")]) == 0
    return out / "curve.json"


def test_given_a_tiny_subset_then_the_bench_writes_the_documented_json_and_plot(
    lfw: Path, curve_json: Path
) -> None:
    curve = json.loads(curve_json.read_text())
    assert curve["benchmark"] == "face_size" and curve["protocol"] == "view2"
    assert curve["pairs"] == 20 and curve["max_pairs"] == 20
    assert curve["settings"]["measured_with_gates"] == {
        "min_face_size_px": 0,
        "min_sharpness": 0.0,
        "min_detector_score": 0.0,
    }
    assert curve["settings"]["detector"] == Settings().detector
    assert curve["downscale"]["reference_face_px"] == LFW_FACE_PX
    assert curve["environment"]["workers"] == 1
    rows = curve["rows"]
    assert [(r["size"], r["mode"]) for r in rows] == [("full", "full"), (32, "one"), (32, "both")]
    assert all(set(r) >= ROW_KEYS for r in rows)
    pairs = select_pairs(LfwDataset(lfw).pairs("pairs.txt"), 20, seed=0)
    images = {i for p in pairs for i in (p.image_a, p.image_b)}
    seconds = {p.image_b for p in pairs}
    full, one, both = rows
    assert [r["photos_measured"] for r in rows] == [len(images), len(seconds), len(images)]
    assert curve["images_embedded"] == 2 * len(images)
    for row in rows:
        assert 0.5 <= row["accuracy"] <= 1 and 0 <= row["tar_at_far_1e-3"] <= 1
        assert 0 <= row["indexed_by_gates_share"] <= row["detected_share"] <= 1
        each = row["passes_each_gate_share"]
        assert list(each) == list(GATES)
        assert all(
            row["indexed_by_gates_share"] <= v <= row["detected_share"] for v in each.values()
        )
        assert row["folds"] == 10
        assert sum(row["box_px_counts"].values()) == round(
            row["detected_share"] * row["photos_measured"]
        )
        # Too few pairs for an accuracy over the pairs with faces found (fewer than 100).
        assert row["pairs_detected"] <= 20 and row["accuracy_detected"] is None
    assert 90 <= full["box_px_median"] <= 130
    assert one["box_px_median"] < 60 and both["box_px_median"] < 60
    # At 32 px the default gate (40 px) would index fewer photos than at full size.
    assert both["indexed_by_gates_share"] < full["indexed_by_gates_share"]
    assert (curve_json.parent / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_given_a_face_size_outside_the_photo_then_the_bench_refuses_it(
    lfw: Path, tmp_path: Path
) -> None:
    out = tmp_path / "curve.json"
    assert bench.main(["--lfw", str(lfw), "--sizes", "200", "--out", str(out)]) == 2
    assert not out.exists()


def test_given_a_face_size_json_then_the_eval_report_shows_the_curve(
    lfw: Path, curve_json: Path, tmp_path: Path
) -> None:
    root = tmp_path / "lfw"
    (root / "images").mkdir(parents=True)
    lines = (lfw / "pairs.txt").read_text().splitlines()
    # Two folds of one same-person and one different-person pair: each fold's threshold is
    # chosen on the other.
    chosen = [lines[1], lines[301], lines[2], lines[302]]
    (root / "pairs.txt").write_text("2\t1\n" + "\n".join(chosen) + "\n")
    people = ("Abel_Pacheco", "Abdel_Madi_Shabneh", "Dean_Barker", "Akhmed_Zakayev")
    for person in (*people, "Giancarlo_Fisichella"):
        os.symlink(lfw / "images" / person, root / "images" / person)
    out = tmp_path / "report"
    args = ["eval", "lfw", "--root", str(root), "--protocol", "view2", "--out", str(out)]
    args += ["--workers", "1", "--cache", str(tmp_path / "cache.sqlite")]
    result = runner.invoke(app, [*args, "--face-size-json", str(curve_json)])
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text()
    assert "Accuracy against face size" in html and "face-size.png" in html
    assert (out / "face-size.png").is_file() and (out / "face-size.json").is_file()
    broken = tmp_path / "broken.json"
    broken.write_text('{"rows": []}')
    refused = runner.invoke(app, [*args, "--face-size-json", str(broken)])
    assert refused.exit_code == 2
    assert "is not a face size curve" in refused.output
