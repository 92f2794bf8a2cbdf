"""One engine, three doors: a search through Python, the command line and the HTTP API is
refused without a purpose and case reference, and logged by the engine the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from facelens.api.app import create_app
from facelens.config import Settings
from facelens.engine import Engine
from facelens.errors import PurposeRequiredError
from facelens.pipeline.analyse import FacePipeline
from facelens.privacy.audit import AuditEntry
from facelens.security.accounts import Role
from facelens.types import Caller
from tests.conftest import PRESS_ARCHIVE, Cli

PURPOSE, CASE = "fraud investigation", "CASE-7"


def _searches(engine: Engine) -> list[AuditEntry]:
    return [e for e in engine.audit_entries() if e.action == "search"]


def test_given_a_python_search_without_purpose_or_case_then_refused_and_the_refusal_logged(
    tmp_path: Path, photos: Path, pipeline: FacePipeline
) -> None:
    cli = Cli(tmp_path / "data")
    cli("collection", "create", "press", *PRESS_ARCHIVE)
    cli("ingest", photos / "obama.jpg", "-c", "press")
    with Engine(Settings(data_dir=cli.data), pipeline=pipeline) as engine:
        with pytest.raises(PurposeRequiredError):
            engine.search(photos / "obama2.jpg")
        with pytest.raises(PurposeRequiredError):
            engine.search(photos / "obama2.jpg", purpose=PURPOSE)  # no case reference
        with pytest.raises(PurposeRequiredError):
            engine.search(photos / "obama2.jpg", purpose="  ", case_ref=CASE)
        refused = [e for e in engine.audit_entries() if e.action == "refused"]
        assert [e.details["refused"] for e in refused] == ["purpose"] * 3
        assert all(e.actor.startswith("python:") for e in refused)
        assert _searches(engine) == [] and engine.search_log() == []
        report = engine.transparency_report(refused[0].at)
        assert report.searches == 0 and report.refusals_by_rule == {"purpose": 3}


def test_given_the_same_search_through_python_cli_and_api_then_the_engine_logs_it_the_same(
    tmp_path: Path, photos: Path, pipeline: FacePipeline
) -> None:
    cli = Cli(tmp_path / "data")
    cli("collection", "create", "press", *PRESS_ARCHIVE)
    cli("ingest", photos / "obama.jpg", photos / "obama3.jpg", photos / "biden.jpg", "-c", "press")
    probe = photos / "obama2.jpg"
    settings = Settings(data_dir=cli.data)

    with Engine(settings, pipeline=pipeline) as engine:
        analyst, key = engine.create_account("analyst-1", Role.ANALYST)
        by_python = engine.search(probe, purpose=PURPOSE, case_ref=CASE)
        # A Python program acting for an account: its search is in the search log too.
        as_account = Caller(f"python:account {analyst.id}", analyst.id)
        engine.search(probe, purpose=PURPOSE, case_ref=CASE, caller=as_account)
    by_cli = cli.json("search", probe, "--purpose", PURPOSE, "--case-ref", CASE)
    with TestClient(create_app(settings, pipeline)) as client:
        by_api = client.post(
            "/searches",
            headers={"X-API-Key": key},
            files={"image": ("p.jpg", probe.read_bytes(), "image/jpeg")},
            data={"purpose": PURPOSE, "case_ref": CASE},
        )
        assert by_api.status_code == 200, by_api.text
        engine = client.app.state.service.engine  # type: ignore[attr-defined]
        python, python_account, command_line, api = _searches(engine)
        search_log = engine.search_log()

    # Same answer through every door.
    shown = [m.face_id for m in by_python.faces[0].matches]
    assert [m["face_id"] for m in by_cli["faces"][0]["matches"]] == shown
    assert [m["face_id"] for m in by_api.json()["faces"][0]["matches"]] == shown
    assert "search_id" not in by_cli, "the command line's JSON is as it was"

    # Same audit entry: only who asked (and the search log row of an account's) differs.
    assert python.actor.startswith("python:")
    assert command_line.actor.startswith("cli:")
    assert api.actor == f"account:{analyst.id} analyst-1"
    assert python_account.actor == as_account.actor

    def logged(entry: AuditEntry) -> tuple[str, dict[str, Any]]:
        return entry.subject, {k: v for k, v in entry.details.items() if k != "search_id"}

    assert logged(python) == logged(command_line) == logged(api) == logged(python_account)
    subject, details = logged(python)
    assert subject == CASE
    assert details == {
        "purpose": PURPOSE,
        "case_ref": CASE,
        "collections": [],
        "probe_sha256": [face.probe_sha256 for face in by_python.faces],
        "result_face_ids": shown,
        "matches": sum(m.is_match for m in by_python.faces[0].matches),
        "threshold": by_python.threshold,
        "decision": "fixed",  # too few faces to calibrate on
        "scores": "raw",
    }
    assert python.details["search_id"] is None and command_line.details["search_id"] is None

    # The search log (per account) holds the account's searches, through Python or the API,
    # with the same fields; the audit entries point at their rows.
    api_row, python_row = search_log  # newest first
    assert api.details["search_id"] == api_row.id == by_api.json()["search_id"]
    assert python_account.details["search_id"] == python_row.id
    for row in (api_row, python_row):
        assert (row.account_id, row.purpose, row.case_ref) == (analyst.id, PURPOSE, CASE)
        assert row.probe_sha256 == details["probe_sha256"]
        assert row.result_face_ids == shown

    # Counted once each in the transparency report.
    report = cli.json("report", "transparency", "--since", "2026-01-01")
    assert report["searches_by_purpose"] == {PURPOSE: 4}
