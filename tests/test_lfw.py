"""Search on real LFW photos (../shared/datasets/lfw, read in place; skipped when absent)."""

from __future__ import annotations

from pathlib import Path

from facelens.engine import Engine
from facelens.errors import NoFaceFoundError
from tests.conftest import SEARCH_WHY, Declare

PEOPLE = 15


def people_with_images(lfw: Path, at_least: int) -> list[str]:
    names = []
    for line in (lfw / "lfw-names.txt").read_text().splitlines():
        name, count = line.split()
        if int(count) >= at_least:
            names.append(name)
    return sorted(names)[:PEOPLE]


def image(lfw: Path, name: str, n: int) -> Path:
    return lfw / "images" / name / f"{name}_{n:04d}.jpg"


def test_given_an_lfw_gallery_then_another_photo_finds_its_person_at_rank_one(
    engine: Engine, lfw: Path, declare: Declare
) -> None:
    names = people_with_images(lfw, at_least=3)
    declare(engine, "lfw")
    report = engine.ingest(
        [image(lfw, name, n) for name in names for n in (1, 2)], "lfw", workers=2
    )
    assert report.images_ingested == 2 * PEOPLE and not report.failures
    hits = 0
    for name in names:
        try:
            faces = engine.search(image(lfw, name, 3), top_k=1, **SEARCH_WHY).faces
        except NoFaceFoundError:
            continue  # a miss, counted as such
        # LFW photos can show other people too; the labelled person is the central face.
        central = min(faces, key=lambda f: abs(f.probe_box.centre[0] - 125))
        hits += Path(central.matches[0].image_location).parent.name == name
    # Measured 14/15: one probe has no face HOG finds at upsample 1 (counted as a miss).
    assert hits >= PEOPLE - 1, f"rank-1 {hits}/{PEOPLE}"
