"""The audit log and the search log in the browser, on the real server with real photos and
real searches: entries shown, filters narrow them, the chain check, CSV exports whose rows
are the filtered ones; analysts see their own searches only, auditors everyone's."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from facelens.security.accounts import Role
from tests.web.browser import ConsoleErrors, assert_accessible, go, sign_in
from tests.web.conftest import Web

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Logged:
    """What the module's searches left behind: a second analyst's key and every search."""

    other_analyst_key: str
    searches: list[dict[str, Any]]


def search(web: Web, key: str, photo: Path, purpose: str, case_ref: str) -> None:
    with web.client(key) as api:
        files = {"image": (photo.name, photo.read_bytes(), "image/jpeg")}
        data = {"purpose": purpose, "case_ref": case_ref}
        api.post("/searches", files=files, data=data).raise_for_status()


@pytest.fixture(scope="module")
def logged(web: Web, photos: Path) -> Logged:
    with web.client(web.keys[Role.ENROLLER]) as enroller:
        files = [
            ("files", (n, (photos / n).read_bytes(), "image/jpeg"))
            for n in ("obama.jpg", "biden.jpg")
        ]
        enroller.post("/collections/press/images", files=files).raise_for_status()
    with web.client(web.keys[Role.ADMIN]) as admin:
        made = admin.post("/accounts", json={"name": "second-analyst", "role": "analyst"})
        other = str(made.raise_for_status().json()["key"])
    analyst = web.keys[Role.ANALYST]
    search(web, analyst, photos / "obama2.jpg", "press photo check", "CASE-A1")
    search(web, analyst, photos / "obama3.jpg", "identify a speaker", "CASE-B2")
    search(web, other, photos / "biden.jpg", "press photo check", "CASE-C3")
    with web.client(web.keys[Role.AUDITOR]) as auditor:
        every: list[dict[str, Any]] = auditor.get("/searches").raise_for_status().json()
    assert len(every) == 3
    return Logged(other, every)


def rows_of(page: Page, table: str) -> int:
    return page.locator(f"{table} tbody tr").count()


def downloaded_csv(page: Page, button: str) -> list[dict[str, str]]:
    with page.expect_download() as info:
        page.click(button)
    path = info.value.path()
    text = Path(path).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_analyst_sees_own_searches_filters_and_exports(
    web: Web, page: Page, console_errors: ConsoleErrors, logged: Logged
) -> None:
    page.goto(web.url)
    sign_in(page, web.keys[Role.ANALYST])
    go(page, "history")
    history = page.locator("#history-page")
    expect(page.locator("#history-title")).to_have_text("Your searches")
    expect(page.locator("#history-table tbody tr")).to_have_count(2)
    shown = page.locator("#history-table")
    expect(shown).to_contain_text("CASE-A1")
    expect(shown).to_contain_text("CASE-B2")
    expect(shown).not_to_contain_text("CASE-C3")
    expect(shown).not_to_contain_text("second-analyst")
    expect(history.get_by_label("Account")).to_have_count(0)  # their own searches only
    with web.client(web.keys[Role.ANALYST]) as api:
        own = api.get("/searches").raise_for_status().json()
    assert sorted(s["case_ref"] for s in own) == ["CASE-A1", "CASE-B2"]
    assert_accessible(page, "analyst-history")

    history.get_by_label("Purpose or case ref contains").fill("speaker")
    expect(page.locator("#history-table tbody tr")).to_have_count(1)
    expect(page.locator("#history-count")).to_have_text("1 of 2 searches shown.")
    exported = downloaded_csv(page, "#history-export")
    assert [(r["purpose"], r["case_ref"], r["account"]) for r in exported] == [
        ("identify a speaker", "CASE-B2", "analyst-web")
    ]
    wanted = next(s for s in own if s["case_ref"] == "CASE-B2")
    assert exported[0]["search_id"] == str(wanted["id"])
    assert exported[0]["results"] == str(wanted["results"])
    assert console_errors == []


def test_auditor_sees_everyones_searches(
    web: Web, page: Page, console_errors: ConsoleErrors, logged: Logged
) -> None:
    page.goto(web.url)
    sign_in(page, web.keys[Role.AUDITOR])
    go(page, "history")
    history = page.locator("#history-page")
    expect(page.locator("#history-title")).to_have_text("Search log")
    expect(page.locator("#history-table tbody tr")).to_have_count(3)
    expect(page.locator("#history-table")).to_contain_text("second-analyst")
    assert_accessible(page, "auditor-history")

    history.get_by_label("Account").select_option("second-analyst")
    expect(page.locator("#history-table tbody tr")).to_have_count(1)
    expect(page.locator("#history-table")).to_contain_text("CASE-C3")
    history.get_by_label("Account").select_option("")
    history.get_by_label("Purpose or case ref contains").fill("press photo")
    expect(page.locator("#history-table tbody tr")).to_have_count(2)
    exported = downloaded_csv(page, "#history-export")
    assert sorted(r["case_ref"] for r in exported) == ["CASE-A1", "CASE-C3"]
    assert sorted(r["account"] for r in exported) == ["analyst-web", "second-analyst"]

    # Dates: all were today; from tomorrow none are.
    today = date.today()
    history.get_by_label("From (day)").fill(today.isoformat())
    history.get_by_label("To (day)").fill(today.isoformat())
    expect(page.locator("#history-table tbody tr")).to_have_count(2)
    history.get_by_label("From (day)").fill((today + timedelta(days=1)).isoformat())
    expect(page.locator("#history-table tbody tr")).to_have_count(0)
    expect(page.locator("#history-table")).to_contain_text("No searches match.")
    assert console_errors == []


def audit_entries(web: Web) -> list[dict[str, Any]]:
    with web.client(web.keys[Role.AUDITOR]) as api:
        found: list[dict[str, Any]] = api.get("/audit?limit=1000").raise_for_status().json()
    return found


def test_audit_log_filters_verifies_and_exports(
    web: Web, page: Page, console_errors: ConsoleErrors, logged: Logged
) -> None:
    page.goto(web.url)
    sign_in(page, web.keys[Role.AUDITOR])
    go(page, "audit")
    audit = page.locator("#audit-page")
    expect(page.locator("#audit-title")).to_have_text("Audit log")
    expect(page.locator("#audit-count")).to_contain_text("(the whole log)")
    everything = audit_entries(web)
    shown = rows_of(page, "#audit-table")
    # The page loaded before this look at the API, which may have added entries since.
    assert 0 < shown <= len(everything)
    assert_accessible(page, "auditor-audit")

    # By action: only the searches, by the second analyst.
    audit.get_by_label("Action").select_option("search")
    searches = [e for e in everything if e["action"] == "search"]
    assert len(searches) == 3
    expect(page.locator("#audit-table tbody tr")).to_have_count(3)
    actor = next(e["actor"] for e in searches if "second-analyst" in e["actor"])
    audit.get_by_label("Actor").select_option(actor)
    expect(page.locator("#audit-table tbody tr")).to_have_count(1)
    exported = downloaded_csv(page, "#audit-export")
    wanted = [e for e in searches if e["actor"] == actor]
    assert [(r["id"], r["actor"], r["action"], r["hash"]) for r in exported] == [
        (str(e["id"]), e["actor"], e["action"], e["hash"]) for e in wanted
    ]

    # Newest first, on the page.
    audit.get_by_label("Newest first").check()
    ids = audit.locator("#audit-table tbody tr td:first-child").all_inner_texts()
    assert ids == [str(e["id"]) for e in reversed(wanted)]
    audit.get_by_label("Action").select_option("")
    ids = audit.locator("#audit-table tbody tr td:first-child").all_inner_texts()
    assert [int(i) for i in ids] == sorted((int(i) for i in ids), reverse=True)
    audit.get_by_label("Newest first").uncheck()

    # By text in the subject, and by day.
    audit.get_by_label("Actor").select_option("")
    audit.get_by_label("Action").select_option("")
    audit.get_by_label("Subject contains").fill("press")
    with_press = [e for e in everything if "press" in e["subject"].lower()]
    assert with_press
    expect(page.locator("#audit-table tbody tr")).to_have_count(len(with_press))
    exported = downloaded_csv(page, "#audit-export")
    assert [r["id"] for r in exported] == [str(e["id"]) for e in with_press]
    tomorrow = (datetime.now().date() + timedelta(days=1)).isoformat()
    audit.get_by_label("From (day)").fill(tomorrow)
    expect(page.locator("#audit-table")).to_contain_text("No entries match.")

    # The chain: intact.
    page.get_by_role("button", name="Verify the chain").click()
    expect(page.locator("#audit-verify-result")).to_contain_text("The chain is intact")
    assert console_errors == []


def test_audit_and_history_fit_a_narrow_screen(
    web: Web, page: Page, console_errors: ConsoleErrors, logged: Logged
) -> None:
    page.set_viewport_size({"width": 400, "height": 800})
    page.goto(web.url)
    sign_in(page, web.keys[Role.ADMIN])
    for page_id in ("audit", "history"):
        go(page, page_id)
        expect(page.locator(f"#{page_id}-table tbody tr").first).to_be_visible()
        overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0, page_id
        assert_accessible(page, f"admin-{page_id}-400px")
    assert console_errors == []
