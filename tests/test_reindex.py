"""``Engine.reindex``: a data folder's faces re-embedded with another model from their source
images, switched only when complete, persons and assignments kept, opt-outs respected."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from facelens.config import Settings
from facelens.engine import Engine
from facelens.engine.reindex import model_settings
from facelens.errors import InvalidArgumentError, ModelMismatchError, ReindexRefusedError
from facelens.pipeline.analyse import FacePipeline
from tests.conftest import PRESS_ARCHIVE, SEARCH_WHY, Cli, Declare
from tests.model_support import PROJECTION_DIM, projection_model

SAMPLES = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"]


@pytest.fixture
def sources(tmp_path: Path, photos: Path) -> Path:
    """The sample photos copied where a test may remove or change them."""
    folder = tmp_path / "sources"
    folder.mkdir()
    for name in SAMPLES:
        shutil.copyfile(photos / name, folder / name)
    return folder


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return projection_model(tmp_path / "model")


def _ingested(
    settings: Settings, pipeline: FacePipeline, sources: Path, declare: Declare
) -> dict[str, int]:
    """Ingest the sources with the default model; Obama's three faces named. Face id by file."""
    with Engine(settings, pipeline=pipeline) as engine:
        declare(engine, "press")
        engine.ingest([sources / n for n in SAMPLES], "press", workers=1)
        faces = {Path(r.location).name: r.face_ids[0] for r in engine.images() if r.face_ids}
        person = engine.create_person("Barack Obama")
        engine.assign_faces(person.id, [faces[n] for n in SAMPLES[:3]])
    return faces


def test_given_a_folder_of_the_default_model_then_reindex_switches_it_keeping_persons(
    settings: Settings, pipeline: FacePipeline, sources: Path, model: Path, declare: Declare
) -> None:
    faces = _ingested(settings, pipeline, sources, declare)
    with Engine(settings, pipeline=pipeline) as engine:
        old_model = engine.model
        with pytest.raises(InvalidArgumentError, match="already"):
            engine.reindex("onnx")  # the model it holds
        report = engine.reindex(model, actor="test:admin")
        assert report.switched and not report.failures
        assert report.faces == report.staged_now == len(SAMPLES)
        # The engine now runs the new model, its index rebuilt from the store at 64 dimensions.
        assert engine.model != old_model and engine.model.dim == PROJECTION_DIM
        assert engine.index.dim == PROJECTION_DIM and engine.index.count() == len(SAMPLES)
        assert sorted(engine.store.indexed_face_ids(engine.model).tolist()) == sorted(
            faces.values()
        )
        assert engine.store.indexed_face_ids(old_model).tolist() == []
        (person,) = engine.persons()
        assert person.name == "Barack Obama"
        assert person.face_ids == sorted(faces[n] for n in SAMPLES[:3])
        # Search works with the new model: a photo finds its own face first.
        result = engine.search(sources / "biden.jpg", **SEARCH_WHY)
        best = result.faces[0].matches[0]
        assert best.face_id == faces["biden.jpg"] and best.similarity > 0.99
        (entry,) = [e for e in engine.audit_entries() if e.action == "reindex"]
        assert entry.actor == "test:admin" and entry.details["switched"] is True
        assert entry.details["from"] == str(old_model) and entry.details["faces"] == 4
        target = FacePipeline(model_settings(settings, model, None)).model
        assert engine.store.staged_face_ids(target).tolist() == []  # the refusal staged nothing
    # Opened with the old settings: refused, saying which settings to use.
    with pytest.raises(ModelMismatchError, match="FACELENS_EMBEDDER=onnx_file"):
        Engine(settings)
    new_settings = settings.model_copy(
        update={"embedder": "onnx_file", "embed_model_path": model.resolve()}
    )
    with Engine(new_settings) as engine:
        assert engine.index.count() == len(SAMPLES)
        assert engine.persons()[0].face_ids == sorted(faces[n] for n in SAMPLES[:3])
        # And back to the default model.
        assert engine.reindex("onnx").switched
        assert engine.model == pipeline.model and engine.index.dim == 128
    with Engine(settings, pipeline=pipeline) as engine:
        found = engine.search(sources / "obama2.jpg", **SEARCH_WHY).faces[0].matches
        assert found[0].face_id == faces["obama2.jpg"] and found[0].person_name == "Barack Obama"


def test_given_a_missing_or_changed_source_then_no_switch_and_a_rerun_resumes(
    settings: Settings, pipeline: FacePipeline, sources: Path, model: Path, declare: Declare
) -> None:
    faces = _ingested(settings, pipeline, sources, declare)
    moved = sources / "obama3.jpg"
    moved.rename(sources / "kept-aside.jpg")
    original = (sources / "biden.jpg").read_bytes()
    (sources / "biden.jpg").write_bytes(original + b"changed")
    with Engine(settings, pipeline=pipeline) as engine:
        old_model = engine.model
        report = engine.reindex(model)
        assert not report.switched and report.staged_now == 2
        assert report.faces_failed == 2
        reasons = {f.face_ids[0]: f.reason for f in report.failures}
        assert "missing" in reasons[faces["obama3.jpg"]]
        assert "changed" in reasons[faces["biden.jpg"]]
        assert engine.model == old_model and engine.index.count() == len(SAMPLES)
        (entry,) = [e for e in engine.audit_entries() if e.action == "reindex"]
        assert entry.details["switched"] is False and entry.details["faces_failed"] == 2
    with Engine(settings, pipeline=pipeline) as engine:  # still the old model
        assert engine.model == old_model
        (sources / "kept-aside.jpg").rename(moved)
        (sources / "biden.jpg").write_bytes(original)
        report = engine.reindex(model)
        assert report.switched and report.already_staged == 2 and report.staged_now == 2
        assert engine.index.count() == len(SAMPLES) and engine.model.dim == PROJECTION_DIM


def test_given_opt_outs_or_a_pending_request_then_the_switch_is_refused_and_audited(
    settings: Settings, pipeline: FacePipeline, sources: Path, model: Path, declare: Declare
) -> None:
    faces = _ingested(settings, pipeline, sources, declare)
    with Engine(settings, pipeline=pipeline) as engine:
        engine.store.add_subject_request(
            kind="erasure",
            request_ref="REQ-1",
            created_by="test",
            status="pending",
            faces_found=0,
            templates=np.zeros((1, 128), np.float32) + 1 / np.sqrt(128),
        )
        with pytest.raises(ReindexRefusedError, match="pending"):
            engine.reindex(model)
        biden = faces["biden.jpg"]
        [(_, vectors)] = list(engine.store.embeddings(engine.model, face_ids=[biden]))
        engine.erase([biden], suppress=vectors[0])  # Biden opted out
        with pytest.raises(ReindexRefusedError, match="opt-out list holds 1 templates"):
            engine.reindex(model)
        refused = [e for e in engine.audit_entries() if e.action == "refused"]
        assert [e.details["refused"] for e in refused] == ["reindex", "reindex"]
        target = FacePipeline(model_settings(settings, model, None)).model
        assert engine.store.staged_face_ids(target).tolist() == []  # the refusal staged nothing
        assert engine.store.suppression_count() == 1, "the opt-out is kept"


def test_given_the_command_line_then_reindex_switches_and_says_which_settings_open_it(
    tmp_path: Path, sources: Path, model: Path
) -> None:
    cli = Cli(tmp_path / "data")
    cli("collection", "create", "press", *PRESS_ARCHIVE)
    cli("ingest", *[sources / n for n in SAMPLES], "-c", "press", "--workers", "1")
    cli("person", "add", "Joe Biden", sources / "biden.jpg", "--collection", "press")
    report = cli.json("reindex", "--model", model)
    assert report["switched"] is True and report["faces"] == len(SAMPLES)
    assert report["faces_failed"] == 0 and report["failures"] == []
    env = report["open_with"]
    assert env == {"FACELENS_EMBEDDER": "onnx_file", "FACELENS_EMBED_MODEL_PATH": str(model)}
    refused = cli.json("stats", code=6)
    assert refused["error"]["code"] == "model_mismatch"
    assert "FACELENS_EMBED_MODEL_PATH=" in refused["error"]["message"]
    stats = cli.json("stats", env=env)
    assert stats["model"]["dim"] == PROJECTION_DIM and stats["index_count"] == len(SAMPLES)
    (person,) = cli.json("person", "list", env=env)
    assert person["name"] == "Joe Biden" and len(person["face_ids"]) == 1
    printed = cli("reindex", "--model", "onnx", env=env)
    assert "switched from projection-112" in printed and "FACELENS_EMBEDDER=onnx" in printed
    assert cli.json("stats")["model"]["dim"] == 128
