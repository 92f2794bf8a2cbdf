"""Normalised scores and the gallery-calibrated threshold, on a real LFW gallery.

The gallery: image 0001 of the first ``GALLERY_PEOPLE`` LFW people by name, ingested through
the real pipeline into a real store and index. Strangers: image 0001 of the people after them
(nowhere in the gallery) and the registry-shipped sample photos. The thresholds are lowered
from their defaults (1,000 faces, 2,000 sampled) so that a gallery of a few hundred faces can
be calibrated in the suite's time; the rule is the same.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page

from facelens.config import Settings
from facelens.engine import Engine
from facelens.errors import NoFaceFoundError
from facelens.pipeline.analyse import FacePipeline
from facelens.scoring.calibration import ImpostorSample, threshold_for_fpir
from facelens.scoring.normalisation import Cohort, as_norm
from facelens.types import SearchResult
from tests.conftest import SEARCH_WHY, Cli, _declare
from tests.web.browser import page as browser  # noqa: F401 (the fixture)
from tests.web.browser import serving, sign_in

pytestmark = pytest.mark.slow

GALLERY_PEOPLE = 400
STRANGERS = 60
SMALL = {
    "score_min_gallery_faces": 300,
    "calibration_sample_faces": 400,
    "score_cohort_size": 300,
    "score_cohort_top_k": 20,
}


def people(lfw: Path) -> list[tuple[str, int]]:
    rows = [line.split() for line in (lfw / "lfw-names.txt").read_text().splitlines()]
    return sorted((name, int(count)) for name, count in rows)


def image(lfw: Path, name: str, n: int) -> Path:
    return lfw / "images" / name / f"{name}_{n:04d}.jpg"


@pytest.fixture(scope="module")
def gallery(
    lfw: Path, pipeline: FacePipeline, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A calibrated data folder (copied per test that changes it)."""
    data = tmp_path_factory.mktemp("calibrated") / "data"
    with open_engine(data, pipeline) as engine:
        _declare(engine, "lfw")
        chosen = people(lfw)[:GALLERY_PEOPLE]
        report = engine.ingest([image(lfw, n, 1) for n, _ in chosen], "lfw", workers=2)
        assert report.faces_indexed >= SMALL["score_min_gallery_faces"]
        assert engine.calibration() is not None  # ingest calibrated it
    yield data


def open_engine(data: Path, pipeline: FacePipeline, **changes: object) -> Engine:
    settings = Settings.model_validate({"data_dir": data, **SMALL, **changes})
    return Engine(settings, pipeline=pipeline)


def top(result: SearchResult) -> bool:
    """Whether the probe's main face has a match."""
    return bool(result.faces and any(m.is_match for m in result.faces[0].matches))


def strangers(lfw: Path, photos: Path) -> list[Path]:
    after = people(lfw)[GALLERY_PEOPLE : GALLERY_PEOPLE + STRANGERS]
    return [image(lfw, n, 1) for n, _ in after] + sorted(photos.glob("*.jpg"))


def test_given_strangers_then_the_calibrated_threshold_stops_matches_the_fixed_one_makes(
    gallery: Path, lfw: Path, photos: Path, pipeline: FacePipeline
) -> None:
    fixed_only = calibrated_matches = fixed_matches = searched = 0
    with open_engine(gallery, pipeline) as engine:
        for probe in strangers(lfw, photos):
            try:
                calibrated = engine.search(probe, top_k=3, **SEARCH_WHY)
            except NoFaceFoundError:
                continue
            fixed = engine.search(probe, top_k=3, threshold=0.93, **SEARCH_WHY)
            assert calibrated.decision is not None and calibrated.decision.rule == "calibrated"
            assert fixed.decision is not None and fixed.decision.rule == "fixed"
            searched += 1
            calibrated_matches += top(calibrated)
            fixed_matches += top(fixed)
            fixed_only += top(fixed) and not top(calibrated)
    assert searched >= STRANGERS // 2
    # A stranger the raw fixed threshold calls a match, the calibrated one does not.
    assert fixed_only >= 1, (fixed_matches, calibrated_matches)
    assert calibrated_matches < fixed_matches


def test_given_mates_then_the_calibrated_threshold_still_finds_most(
    gallery: Path, lfw: Path, pipeline: FacePipeline
) -> None:
    mated = [(n, c) for n, c in people(lfw)[:GALLERY_PEOPLE] if c >= 2][:30]
    found = 0
    with open_engine(gallery, pipeline) as engine:
        for name, _ in mated:
            result = engine.search(image(lfw, name, 2), top_k=1, **SEARCH_WHY)
            best = result.faces[0].matches[0]
            found += best.is_match and name in best.image_location
            assert best.normalised_score is not None
    assert found >= 0.6 * len(mated)


def test_given_a_calibrated_gallery_then_a_search_states_what_its_threshold_costs(
    gallery: Path, lfw: Path, pipeline: FacePipeline
) -> None:
    with open_engine(gallery, pipeline) as engine:
        result = engine.search(image(lfw, people(lfw)[0][0], 1), **SEARCH_WHY)
        decision = result.decision
        assert decision is not None and decision.scores == "cohort_mean"
        assert decision.target_fpir == 0.01
        assert decision.estimated_fpir is not None and decision.estimated_fpir <= 0.01
        assert decision.expected_false_candidates is not None
        assert decision.gallery_faces == decision.calibrated_gallery_faces
        assert not decision.calibration_stale
        # Ranked by the normalised score, best first.
        scores = [m.normalised_score for m in result.faces[0].matches]
        assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    # A stricter target needs a higher threshold, from the same calibration.
    with open_engine(gallery, pipeline, search_target_fpir=0.003) as engine:
        stricter = engine.decision(None)
    assert stricter.threshold >= decision.threshold


def test_given_erasure_then_the_face_leaves_the_cohort_on_disk_and_in_memory(
    gallery: Path, pipeline: FacePipeline, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(gallery, data)
    with open_engine(data, pipeline) as engine:
        calibration = engine.calibration()
        assert calibration is not None
        gone = calibration.cohort_ids[0]
        cohort = engine.scoring_cohort()
        assert cohort is not None and gone in cohort.ids
        engine.erase([gone])
        assert gone not in engine.calibration().cohort_ids  # type: ignore[union-attr]
        cohort = engine.scoring_cohort()
        assert cohort is not None and gone not in cohort.ids
    with open_engine(data, pipeline) as engine:
        assert gone not in engine.calibration().cohort_ids  # type: ignore[union-attr]


def test_given_a_damaged_calibration_file_then_search_falls_back_and_calibrate_mends_it(
    gallery: Path, lfw: Path, pipeline: FacePipeline, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(gallery, data)
    for path in (data / "calibration").glob("*.npz"):
        path.write_bytes(b"not a calibration")
    with open_engine(data, pipeline) as engine:
        result = engine.search(image(lfw, people(lfw)[0][0], 1), **SEARCH_WHY)
        assert result.decision is not None and result.decision.rule == "fixed"
        assert engine.calibrate() is not None
        assert engine.decision(None).rule == "calibrated"


def test_given_a_small_gallery_then_search_decides_on_raw_similarity(
    engine: Engine, photos: Path, declare: object
) -> None:
    _declare(engine, "samples")
    engine.ingest([photos / "obama.jpg", photos / "biden.jpg"], "samples")
    result = engine.search(photos / "obama2.jpg", **SEARCH_WHY)
    assert result.decision is not None
    assert (result.decision.rule, result.decision.scores) == ("fixed", "raw")
    assert result.threshold == engine.settings.match_threshold
    assert all(m.normalised_score is None for m in result.faces[0].matches)
    assert engine.calibrate() is None  # too few faces to measure strangers on


# --- the functions, on arrays whose answer is known ---------------------------------------


def test_given_a_sample_then_the_threshold_lets_through_at_most_the_target_share() -> None:
    best = np.linspace(0.0, 1.0, 1000)
    sample = ImpostorSample(best[:, None])
    threshold = threshold_for_fpir(sample, 0.01)
    assert np.sum(best >= threshold) == 10
    assert np.sum(best >= np.nextafter(np.sort(best)[-11], -np.inf)) == 11


def test_given_a_face_in_the_cohort_then_its_statistics_leave_it_out() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((50, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    cohort = Cohort(ids=np.arange(50, dtype=np.int64), vectors=vectors, top_k=1)
    own = cohort.stats(vectors[:5], np.arange(5, dtype=np.int64))
    assert np.all(own.mean < 0.999)  # not its own score of 1
    anonymous = cohort.stats(vectors[:5])
    assert np.allclose(anonymous.mean, 1.0, atol=1e-5)


def test_given_scores_then_as_norm_standardises_both_sides() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((40, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    cohort = Cohort(ids=np.full(30, -1, dtype=np.int64), vectors=vectors[:30], top_k=5)
    probe, gallery = cohort.stats(vectors[30:32]), cohort.stats(vectors[32:])
    raw = vectors[30:32] @ vectors[32:].T
    normalised = as_norm(raw, probe, gallery)
    expected = 0.5 * (
        (raw[1, 3] - probe.mean[1]) / probe.std[1] + (raw[1, 3] - gallery.mean[3]) / gallery.std[3]
    )
    assert normalised.shape == (2, 8)
    assert normalised[1, 3] == pytest.approx(expected)


def test_given_the_command_line_then_index_calibrate_reports_the_threshold(
    gallery: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(gallery, data)
    env = {f"FACELENS_{k.upper()}": str(v) for k, v in SMALL.items()}
    cli = Cli(data, env)
    figures = cli.json("index", "calibrate")
    assert figures["scores"] == "cohort_mean" and figures["target_fpir"] == 0.01
    assert figures["estimated_fpir"] <= 0.01
    assert "holds FPIR 0.01" in cli("index", "calibrate")
    # Too small a gallery for this engine's rule: said, and searches decide on similarity.
    assert "not calibrated" in cli(
        "index", "calibrate", env={"FACELENS_SCORE_MIN_GALLERY_FACES": "100000"}
    )


def test_given_the_http_api_then_a_search_answers_with_its_calibrated_decision(
    gallery: Path, lfw: Path, pipeline: FacePipeline, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from facelens.api.app import create_app
    from facelens.security.accounts import Role, create_account

    data = tmp_path / "data"
    shutil.copytree(gallery, data)
    settings = Settings.model_validate({"data_dir": data, **SMALL})
    probe = image(lfw, people(lfw)[0][0], 1)
    with TestClient(create_app(settings, pipeline)) as client:
        store = client.app.state.service.engine.store  # type: ignore[attr-defined]
        key = {"X-API-Key": create_account(store, "analyst-1", Role.ANALYST)[1]}
        found = client.post(
            "/searches",
            headers=key,
            files={"image": (probe.name, probe.read_bytes(), "image/jpeg")},
            data=dict(SEARCH_WHY),
        )
        given = client.post(
            "/searches",
            headers=key,
            files={"image": (probe.name, probe.read_bytes(), "image/jpeg")},
            data={**SEARCH_WHY, "threshold": "0.93"},
        )
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["decision"]["rule"] == "calibrated"
    assert body["decision"]["target_fpir"] == 0.01
    assert body["threshold"] == body["decision"]["threshold"]
    top = body["faces"][0]["matches"][0]
    assert top["is_match"] and top["normalised_score"] >= body["threshold"]
    assert given.json()["decision"]["rule"] == "fixed" and given.json()["threshold"] == 0.93


def test_given_a_batch_then_each_probe_is_decided_as_a_single_search_is(
    gallery: Path, lfw: Path, pipeline: FacePipeline
) -> None:
    probes = strangers(lfw, Path("/nonexistent"))[:6]
    with open_engine(gallery, pipeline) as engine:
        batch = [o for o in engine.search_many(probes, top_k=3, **SEARCH_WHY) if o.result]
        assert len(batch) >= 3
        for outcome in batch:
            single = engine.search(outcome.probe, top_k=3, **SEARCH_WHY)
            assert outcome.result is not None and outcome.result.decision == single.decision
            assert outcome.result.decision is not None
            assert outcome.result.decision.rule == "calibrated"
            got = [(m.face_id, m.is_match) for m in outcome.result.faces[0].matches]
            assert got == [(m.face_id, m.is_match) for m in single.faces[0].matches]


def test_given_the_web_page_then_a_calibrated_search_says_its_rule_in_words(
    gallery: Path,
    lfw: Path,
    pipeline: FacePipeline,
    tmp_path: Path,
    browser: Page,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    from facelens.security.accounts import Role, create_account
    from facelens.store import create_store

    data = tmp_path / "data"
    shutil.copytree(gallery, data)
    settings = Settings.model_validate({"data_dir": data, **SMALL})
    with Engine(settings, pipeline=pipeline) as engine:  # opened once: the folder's own key
        cipher = engine.cipher
    store = create_store(settings, cipher)
    key = create_account(store, "analyst-web", Role.ANALYST)[1]
    store.close()
    with serving(settings, pipeline) as url:
        browser.goto(f"{url}/")
        sign_in(browser, key)
        browser.set_input_files("#probe", str(image(lfw, people(lfw)[0][0], 1)))
        browser.fill("#purpose", "identity check")
        browser.fill("#case-ref", "WEB-2")
        browser.click("#search-button")
        rule = browser.locator("#results .decision").first
        expect(rule).to_contain_text("calibrated on this gallery")
        expect(rule).to_contain_text("at most 1.0% of searches for someone not in it")
        expect(browser.locator(".grid .match .normalised").first).to_contain_text("normalised")


def test_given_an_enrolled_person_with_many_photos_then_their_new_photos_still_match(
    gallery: Path, lfw: Path, pipeline: FacePipeline, tmp_path: Path
) -> None:
    """A person's own photos are no strangers to a probe of them: left out of the probe's
    statistics for the comparison with that person's faces, they do not lower its scores."""
    data = tmp_path / "data"
    shutil.copytree(gallery, data)
    name = "George_W_Bush"
    with open_engine(data, pipeline) as engine:
        engine.enrol("George W Bush", [image(lfw, name, n) for n in range(2, 42)], collection="lfw")
        assert engine.calibrate() is not None
        found = 0
        for n in range(100, 110):
            result = engine.search(image(lfw, name, n), top_k=1, **SEARCH_WHY)
            assert result.decision is not None and result.decision.rule == "calibrated"
            best = result.faces[0].matches[0]
            found += best.is_match and best.person_name == "George W Bush"
    assert found >= 9, found
