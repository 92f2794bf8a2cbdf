"""Issue 16 item 5: a batch search over a folder gives the same answers as one search per
photo, by every door (Python, CLI, API job); a bad probe is reported and never stops the rest;
every probe is logged with the batch's purpose and case reference.

Real photos, models, SQLite store and FAISS index."""

from __future__ import annotations

import csv
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from facelens.api.app import create_app
from facelens.batch_search import ProbeOutcome
from facelens.cli.exit_codes import EXIT_INGEST_FAILURES
from facelens.config import Settings
from facelens.engine import Engine
from facelens.errors import FacelensError
from facelens.pipeline.analyse import FacePipeline
from facelens.security.accounts import Role, create_account
from facelens.types import Caller, SearchResult
from tests.conftest import SEARCH_WHY, TEST_POLICY, Cli

#: What the probe folder holds besides photos of faces: a file that is not an image (named
#: as one, so the folder walk picks it up) and an image without a face.
BROKEN, WALL = "broken.jpg", "wall.png"


@pytest.fixture(scope="module")
def probes(tmp_path_factory: pytest.TempPathFactory, photos: Path) -> Path:
    """obama2, obama3 and a sideways obama2 (found only once turned), one in a subfolder;
    a text file named .jpg; a grey wall; and notes.txt, which the walk leaves out."""
    folder = tmp_path_factory.mktemp("probes")
    shutil.copy(photos / "obama2.jpg", folder / "obama2.jpg")
    (folder / "more").mkdir()
    shutil.copy(photos / "obama3.jpg", folder / "more" / "obama3.jpg")
    sideways = Image.open(photos / "obama2.jpg").transpose(Image.Transpose.ROTATE_270)
    sideways.save(folder / "sideways.png")
    (folder / BROKEN).write_text("not a photo")
    Image.new("RGB", (300, 200), (120, 120, 120)).save(folder / WALL)
    (folder / "notes.txt").write_text("not a probe")
    return folder


def gallery(engine: Engine, photos: Path) -> None:
    engine.create_collection("press", TEST_POLICY)
    engine.ingest([photos / "obama.jpg"], "press", workers=1)
    # A name a spreadsheet would run as a formula, were it not kept as text.
    engine.enrol("=Joe Biden", [photos / "biden.jpg"], collection="press")


def answers(result: SearchResult) -> list[list[tuple[int, float]]]:
    return [[(m.face_id, m.similarity) for m in face.matches] for face in result.faces]


def assert_same(batch: list[list[tuple[int, float]]], alone: list[list[tuple[int, float]]]) -> None:
    assert [[i for i, _ in f] for f in batch] == [[i for i, _ in f] for f in alone]
    for face_b, face_a in zip(batch, alone, strict=True):
        for (_, b), (_, a) in zip(face_b, face_a, strict=True):
            assert abs(a - b) <= 1e-6


def one_by_one(engine: Engine, probe: Path) -> SearchResult | str:
    """``engine.search`` of one probe, or its error's code."""
    try:
        return engine.search(probe, **SEARCH_WHY)
    except FacelensError as exc:
        return exc.code


@pytest.fixture
def engine(tmp_path: Path, photos: Path) -> Iterator[Engine]:
    """Probes jittered (as a search jitters them) and embedded two chips a batch, so that the
    batch spans several embedding calls."""
    settings = Settings(data_dir=tmp_path / "data", probe_jitters=3, embed_batch_size=2)
    with Engine(settings, pipeline=FacePipeline(settings)) as opened:
        gallery(opened, photos)
        yield opened


def test_given_a_folder_of_probes_then_each_answer_is_that_of_its_own_search_and_logged(
    engine: Engine, probes: Path
) -> None:
    account, _ = create_account(engine.store, "analyst", Role.ANALYST)
    caller = Caller("account:1 analyst", account.id)
    seen: list[tuple[int, int]] = []

    outcomes = list(
        engine.search_many(
            [probes], **SEARCH_WHY, caller=caller, progress=lambda *p: seen.append(p)
        )
    )

    names = [Path(o.probe).relative_to(probes).as_posix() for o in outcomes]
    # As ingest walks a folder: its files by name, then its subfolders'.
    assert names == [BROKEN, "obama2.jpg", "sideways.png", WALL, "more/obama3.jpg"]
    assert seen[-1] == (5, 5) and len(seen) == 5
    for outcome in outcomes:
        alone = one_by_one(engine, Path(outcome.probe))
        if isinstance(alone, str):
            assert outcome.result is None and outcome.error is not None, outcome
            assert outcome.error.code == alone
            continue
        assert outcome.result is not None, outcome
        assert_same(answers(outcome.result), answers(alone))
        assert [f.probe_box for f in outcome.result.faces] == [f.probe_box for f in alone.faces]
        assert outcome.result.probe_turned_degrees == alone.probe_turned_degrees
    by_name = dict(zip(names, outcomes, strict=True))
    assert by_name["sideways.png"].result is not None
    assert by_name["sideways.png"].result.probe_turned_degrees == 270
    broken = by_name[BROKEN].error
    assert broken is not None and broken.code == "unsupported_image"
    assert by_name[WALL].no_face

    # One search in the log per probe searched, each with the batch's purpose and case.
    logged = engine.search_log(account.id)
    assert {r.id for r in logged} == {o.result.search_id for o in outcomes if o.result}
    assert {(r.purpose, r.case_ref) for r in logged} == {tuple(SEARCH_WHY.values())}
    entries = engine.store.audit_entries()
    [batch] = [e for e in entries if e.action == "batch search"]
    assert (batch.details["probes"], batch.details["searched"]) == (5, 3)
    assert (batch.details["no_face"], batch.details["failed"]) == (1, 1)
    assert sorted(batch.details["search_ids"]) == sorted(r.id for r in logged)


def test_given_no_purpose_then_the_batch_is_refused_before_any_probe_is_read(
    engine: Engine, probes: Path
) -> None:
    before = len(engine.store.audit_entries())
    with pytest.raises(FacelensError) as refused:
        engine.search_many([probes], purpose="", case_ref="C-1")
    assert refused.value.code == "purpose_required"
    [entry] = engine.store.audit_entries()[before:]
    assert entry.action == "refused" and entry.details["refused"] == "purpose"


WHY = ("--purpose", SEARCH_WHY["purpose"], "--case-ref", SEARCH_WHY["case_ref"])


def test_given_a_folder_then_the_cli_writes_json_lines_and_a_csv_of_the_same_answers(
    tmp_path: Path, pipeline: FacePipeline, photos: Path, probes: Path
) -> None:
    cli = Cli(tmp_path / "data")
    with Engine(Settings(data_dir=cli.data), pipeline=pipeline) as engine:
        gallery(engine, photos)
    lines_path, csv_path = tmp_path / "out" / "results.jsonl", tmp_path / "out" / "results.csv"
    lines_path.parent.mkdir()

    printed = cli(
        "search", probes, *WHY, "--jsonl", lines_path, "--csv", csv_path,
        code=EXIT_INGEST_FAILURES,
    )  # fmt: skip

    assert "5 probes: 3 searched (3 with a match), 1 without a usable face, 1 failed" in printed
    assert "broken.jpg" in printed and "wall.png" in printed
    lines = [json.loads(line) for line in lines_path.read_text(encoding="utf-8").splitlines()]
    assert [Path(line["probe"]).name for line in lines] == [
        BROKEN, "obama2.jpg", "sideways.png", WALL, "obama3.jpg",
    ]  # fmt: skip
    for line in lines:  # each line: the probe, its error, and its search as --json gives it
        searched = {k: v for k, v in line.items() if k not in {"probe", "error"}}
        alone = cli.invoke("search", line["probe"], *WHY, "--json")
        if line["error"] is None:
            assert alone.exit_code == 0 and searched == json.loads(alone.stdout), line["probe"]
        else:
            assert not searched and json.loads(alone.stdout)["error"] == line["error"]

    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "a byte order mark, for Excel"
    with csv_path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected = [
        (line["probe"], n, rank, m)
        for line in lines
        for n, face in enumerate(line.get("faces", []), start=1)
        for rank, m in enumerate(face["matches"], start=1)
    ]
    matched = [r for r in rows if r["rank"]]
    assert len(matched) == len(expected) == 6  # 3 probes, 2 gallery faces each
    for row, (probe, n, rank, m) in zip(matched, expected, strict=True):
        assert (row["probe"], int(row["probe_face"]), int(row["rank"])) == (probe, n, rank)
        assert int(row["face_id"]) == m["face_id"]
        assert abs(float(row["similarity"]) - m["similarity"]) <= 1e-6
        assert row["is_match"] == ("true" if m["is_match"] else "false")
        assert (row["image_location"], row["collection"]) == (m["image_location"], "press")
    assert {r["person_name"] for r in matched} == {"", "'=Joe Biden"}, "kept as text"
    failed = [r for r in rows if not r["rank"]]
    assert [(Path(r["probe"]).name, r["error"].split(":")[0]) for r in failed] == [
        (BROKEN, "unsupported_image"),
        (WALL, "no_face_found"),
    ]

    with Engine(Settings(data_dir=cli.data), pipeline=pipeline) as engine:
        entries = engine.store.audit_entries()
    [batch] = [e for e in entries if e.action == "batch search"]
    searches = [e for e in entries if e.action == "search" and e.id < batch.id]
    # The batch's three searches, then one per probe searched alone.
    assert len([e for e in entries if e.action == "search"]) == 3 + 3
    assert len(searches) == 3 and {e.actor for e in searches} == {batch.actor}
    assert {(e.details["purpose"], e.details["case_ref"]) for e in searches} == {
        tuple(SEARCH_WHY.values())
    }


def test_given_one_photo_then_search_output_is_that_of_a_single_search(
    tmp_path: Path, pipeline: FacePipeline, photos: Path
) -> None:
    cli = Cli(tmp_path / "data")
    with Engine(Settings(data_dir=cli.data), pipeline=pipeline) as engine:
        gallery(engine, photos)
    single = cli.json("search", photos / "obama2.jpg", *WHY)
    assert "summary" not in single and single["faces"][0]["matches"][0]["is_match"]
    both = cli.json("search", photos / "obama2.jpg", photos / "obama3.jpg", *WHY)
    assert both["summary"] == {
        "probes": 2, "searched": 2, "with_match": 2, "no_face": 0, "failed": 0,
    }  # fmt: skip
    first = both["probes"][0]
    assert (first.pop("probe"), first.pop("error")) == (str(photos / "obama2.jpg"), None)
    assert first == single


def finished(client: TestClient, key: dict[str, str], job_id: int) -> Any:
    deadline = time.monotonic() + 120
    while (state := client.get(f"/jobs/search/{job_id}", headers=key).json())["status"] in {
        "queued",
        "running",
    } and time.monotonic() < deadline:
        time.sleep(0.2)
    return state


def test_given_a_search_job_then_it_answers_as_searches_one_by_one_and_only_to_its_analyst(
    tmp_path: Path, pipeline: FacePipeline, photos: Path, probes: Path
) -> None:
    root = tmp_path / "allowed"
    shutil.copytree(probes, root / "probes")
    settings = Settings(data_dir=tmp_path / "data", ingest_allowed_roots=[root])
    with TestClient(create_app(settings, pipeline)) as client:
        engine: Engine = client.app.state.service.engine  # type: ignore[attr-defined]
        gallery(engine, photos)
        analyst = {"X-API-Key": create_account(engine.store, "analyst", Role.ANALYST)[1]}
        other = {"X-API-Key": create_account(engine.store, "other", Role.ANALYST)[1]}
        enroller = {"X-API-Key": create_account(engine.store, "enroller", Role.ENROLLER)[1]}
        body = {"probes": [str(root / "probes")], "collections": ["press"], **SEARCH_WHY}

        unexplained = client.post("/jobs/search", headers=analyst, json={"probes": body["probes"]})
        assert unexplained.status_code == 403
        assert unexplained.headers["content-type"] == "application/problem+json"
        assert (unexplained.json()["type"], unexplained.json()["rule"]) == (
            "/problems/purpose_required",
            "purpose",
        )
        refused = client.post("/jobs/search", headers=enroller, json=body)
        assert (refused.status_code, refused.json()["type"]) == (403, "/problems/forbidden")
        outside = client.post("/jobs/search", headers=analyst, json=body | {"probes": ["/etc"]})
        assert outside.json()["type"] == "/problems/folder_not_allowed"

        started = client.post("/jobs/search", headers=analyst, json=body)
        assert started.status_code == 202, started.text
        state = finished(client, analyst, started.json()["job_id"])
        assert state["status"] == "done", state
        assert (state["probes_done"], state["probes_total"]) == (5, 5)
        assert state["summary"] == {
            "probes": 5, "searched": 3, "with_match": 3, "no_face": 1, "failed": 1,
        }  # fmt: skip
        for item in state["results"]:
            alone = one_by_one(engine, Path(item["probe"]))
            if isinstance(alone, str):
                assert item["result"] is None and item["error"]["code"] == alone
                continue
            batch = [
                [(m["face_id"], m["similarity"]) for m in face["matches"]]
                for face in item["result"]["faces"]
            ]
            assert_same(batch, answers(alone))
        logged = client.get("/searches", headers=analyst).json()
        ids = {i["result"]["search_id"] for i in state["results"] if i["result"]}
        assert ids <= {r["id"] for r in logged} and len(ids) == 3
        assert {(r["purpose"], r["case_ref"]) for r in logged if r["id"] in ids} == {
            tuple(SEARCH_WHY.values())
        }
        # Another analyst, and an enroller, cannot see it.
        job = f"/jobs/search/{started.json()['job_id']}"
        assert client.get(job, headers=other).status_code == 404
        assert client.get(job, headers=enroller).json()["type"] == "/problems/forbidden"


def test_given_an_outcome_then_it_has_a_result_or_an_error() -> None:
    with pytest.raises(ValueError):
        ProbeOutcome("p.jpg")
