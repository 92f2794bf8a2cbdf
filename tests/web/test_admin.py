"""The admin pages in a real browser against the real server and engine, with real photos:
accounts, subject requests (access and erasure, in two steps), consent, retention and the
transparency report; each used end to end by its role and absent for the roles that may not."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from facelens.security.accounts import PERMISSIONS, Action, Role
from tests.web.browser import (
    ConsoleErrors,
    assert_accessible,
    browser_page,
    go,
    no_page_scrolls_sideways,
    sign_in,
    sign_out,
)
from tests.web.conftest import Web

pytestmark = pytest.mark.slow

#: The admin pages, and the action each needs.
ADMIN_PAGES = {
    "accounts": Action.MANAGE_ACCOUNTS,
    "requests": Action.HANDLE_SUBJECT_REQUESTS,
    "consent": Action.MANAGE_CONSENT,
    "retention": Action.RUN_RETENTION,
    "transparency": Action.READ_REPORTS,
}


def face_of(web: Web, collection: str, name: str) -> int:
    """The one face of the image called name in the collection."""
    with web.client(Role.ADMIN) as api:
        images = api.get(f"/collections/{collection}/images").raise_for_status().json()
    [image] = [i for i in images if i["location"].endswith(name)]
    [face] = image["face_ids"]
    return int(face)


@pytest.fixture(scope="module")
def gallery(web: Web, photos: Path) -> dict[str, int]:
    """Obama in press, Biden in archive: their face ids by file name."""
    web.upload("press", photos / "obama.jpg")
    web.upload("archive", photos / "biden.jpg")
    return {"obama.jpg": face_of(web, "press", "obama.jpg"),
            "biden.jpg": face_of(web, "archive", "biden.jpg")}  # fmt: skip


@pytest.fixture(scope="module")
def volunteers(web: Web) -> str:
    """A collection resting on consent, where persons are enrolled under a consent record."""
    with web.client(Role.ADMIN) as api:
        api.post(
            "/collections",
            json={"name": "volunteers", "basis": "consent", "jurisdictions": ["GB"],
                  "purpose": "volunteer identification", "retention_days": 365},
        ).raise_for_status()  # fmt: skip
    return "volunteers"


def add_consent(web: Web, subject: str, scope: str, expires_at: datetime | None = None) -> int:
    with web.client(Role.ADMIN) as api:
        made = api.post(
            "/consents",
            json={"subject_ref": subject, "purpose": "volunteer identification",
                  "scope": [scope], "evidence_ref": f"form {subject}",
                  "expires_at": expires_at.isoformat() if expires_at else None},
        ).raise_for_status().json()  # fmt: skip
    return int(made["id"])


def enrol(web: Web, collection: str, name: str, photo: Path, consent_id: int) -> int:
    """Enrol the photo's face as a person under the consent: the face's id."""
    with web.client(Role.ENROLLER) as api:
        person = api.post(
            f"/collections/{collection}/enrolments",
            data={"person_name": name, "consent_id": str(consent_id)},
            files=[("photos", (photo.name, photo.read_bytes(), "image/jpeg"))],
        )
    assert person.status_code == 201, person.text
    [face] = person.json()["face_ids"]
    return int(face)


def face_exists(web: Web, face_id: int) -> bool:
    with web.client(Role.ADMIN) as api:
        status = api.get(f"/faces/{face_id}").status_code
    assert status in (200, 404), status
    return status == 200


# --- who sees which page --------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_given_a_role_then_it_sees_the_links_of_the_admin_pages_it_may_use_and_no_other(
    web: Web, page: Page, console_errors: ConsoleErrors, role: Role
) -> None:
    page.goto(web.url)
    sign_in(page, web.keys[role])
    for page_id, action in ADMIN_PAGES.items():
        link = page.locator(f"#nav a[href='#{page_id}']")
        if action in PERMISSIONS[role]:
            expect(link).to_be_visible()
        else:
            expect(link).to_have_count(0)
    # Nor does typing the page's address open it.
    for page_id, action in ADMIN_PAGES.items():
        if action not in PERMISSIONS[role]:
            page.goto(f"{web.url}/ui/#{page_id}")
            expect(page.locator("#nav")).to_be_visible()
            expect(page.locator(f"#{page_id}-page")).to_have_count(0)
    assert console_errors == []


# --- accounts -------------------------------------------------------------------------------


def test_given_an_admin_then_an_account_is_made_and_its_key_shown_once(
    web: Web, page: Page, console_errors: ConsoleErrors
) -> None:
    page.goto(web.url)
    sign_in(page, web.keys[Role.ADMIN])
    go(page, "accounts")
    expect(page.locator("#accounts-table")).to_contain_text(f"{Role.ANALYST}-web")
    assert_accessible(page, "admin-accounts")

    form = page.locator("#account-form")
    form.get_by_label("Name").fill("Casework analyst 7")
    form.get_by_label("Role").select_option("analyst")
    form.get_by_label("Jurisdiction").fill("GB")
    form.get_by_role("button", name="Create account").click()
    key_field = page.get_by_label("API key of Casework analyst 7 (analyst)")
    expect(key_field).to_have_value(re.compile(r"^fl_\d+_"))
    expect(key_field).to_have_attribute("readonly", "")
    expect(page.locator("#new-key-note")).to_contain_text("This key will not be shown again.")
    row = page.locator("#accounts-table tr", has_text="Casework analyst 7")
    expect(row).to_contain_text("analyst")
    expect(row).to_contain_text("GB")
    expect(row).to_contain_text("active")
    assert_accessible(page, "admin-accounts-key")
    key = key_field.input_value()

    # The key works: the new analyst signs in with it.
    with web.client(Role.ADMIN) as api:
        me = api.get("/session", headers={"X-API-Key": key})
    assert me.json()["account"]["name"] == "Casework analyst 7", me.text

    # Leaving the page drops the key; so does signing out.
    go(page, "requests")
    assert page.locator("#new-key").count() == 0
    assert key not in page.content()
    go(page, "accounts")
    expect(page.locator("#new-key")).to_have_count(0)
    form.get_by_label("Name").fill("Casework analyst 8")
    form.get_by_role("button", name="Create account").click()
    expect(page.locator("#new-key")).to_be_visible()
    sign_out(page)
    expect(page.locator("#new-key")).to_have_count(0)
    assert "fl_" not in page.content()
    sign_in(page, key)  # the new analyst: no admin page
    expect(page.locator("#nav a[href='#accounts']")).to_have_count(0)
    assert console_errors == []


def test_given_a_wrong_jurisdiction_then_the_account_is_refused_and_the_next_action_clears_it(
    web: Web, page: Page
) -> None:
    page.goto(web.url)
    sign_in(page, web.keys[Role.ADMIN])
    go(page, "accounts")
    form = page.locator("#account-form")
    form.get_by_label("Name").fill("Nowhere")
    form.get_by_label("Jurisdiction").fill("Narnia")
    form.get_by_role("button", name="Create account").click()
    message = page.locator("#message")
    expect(message).to_be_visible()
    expect(message).to_have_class("error")
    expect(page.locator("#new-key")).to_have_count(0)
    assert "/" not in (message.text_content() or "").replace("ISO 3166", ""), "no server path"
    form.get_by_label("Jurisdiction").fill("")
    form.get_by_role("button", name="Create account").click()
    expect(page.locator("#new-key")).to_be_visible()
    expect(message).to_be_hidden()


# --- subject requests -----------------------------------------------------------------------


def test_given_an_erasure_request_then_the_admin_reviews_confirms_and_the_face_is_gone(
    web: Web, page: Page, console_errors: ConsoleErrors, photos: Path, gallery: dict[str, int]
) -> None:
    obama = gallery["obama.jpg"]
    page.goto(web.url)
    sign_in(page, web.keys[Role.ADMIN])
    go(page, "requests")
    assert_accessible(page, "admin-requests")

    form = page.locator("#request-form")
    form.get_by_label("Kind").select_option("erasure")
    form.get_by_label("Request reference").fill("DSR-2026-1")
    form.get_by_label("Photos of the requester").set_input_files(photos / "obama2.jpg")
    form.get_by_role("button", name="Find candidates").click()

    review = page.locator("#request-review")
    expect(review.locator("#review-title")).to_contain_text("erasure and opt-out request")
    expect(review.locator("#review-title")).to_contain_text("DSR-2026-1")
    expect(review.locator("#request-status")).to_contain_text("pending")
    expect(review.locator("#request-rule")).to_contain_text("cosine similarity")
    card = review.locator(f".candidate[data-face='{obama}']")
    expect(review.locator(".candidate")).to_have_count(1)  # Biden is no candidate
    expect(card).to_contain_text("press")
    expect(card).to_contain_text("obama.jpg")
    expect(card.locator("img")).to_have_js_property("complete", True)
    assert card.locator("img").evaluate("img => img.naturalWidth") > 0, "the crop is shown"
    similarity = float(card.locator("dd").first.inner_text())
    assert 0.5 < similarity <= 1.0

    # Step 2 is explicit: a summary, then Confirm; Cancel erases nothing.
    card.get_by_label(f"Face {obama} is the requester's").check()
    page.get_by_role("button", name="Continue to erasure").click()
    step = page.locator("#request-confirm-step")
    expect(step).to_contain_text(
        "Erase 1 face from the store, the index and every copy, and add the requester to the "
        "opt-out list?"
    )
    expect(step).to_be_focused()
    assert_accessible(page, "admin-requests-confirm")
    step.get_by_role("button", name="Cancel").click()
    expect(step).to_have_count(0)
    expect(page.get_by_role("button", name="Continue to erasure")).to_be_focused()
    assert face_exists(web, obama)

    # Reopened by its number, as another day's admin would.
    request_id = int(review.locator("#review-title").inner_text().split(":")[0].split()[-1])
    go(page, "accounts")
    go(page, "requests")
    expect(page.locator("#requests-table")).to_contain_text("DSR-2026-1")
    page.get_by_label("Request number").fill(str(request_id))
    page.get_by_role("button", name="Reopen", exact=True).click()
    expect(review.locator("#request-status")).to_contain_text("pending")
    review.get_by_label(f"Face {obama} is the requester's").check()
    page.get_by_role("button", name="Continue to erasure").click()
    expect(step).to_contain_text("Erase 1 face from")
    page.get_by_role("button", name="Confirm erasure").click()

    expect(page.locator("#message")).to_contain_text(
        f"Request {request_id} completed: 1 face and 1 image erased; the requester is on the "
        "opt-out list."
    )
    expect(review.locator("#request-status")).to_contain_text("completed")
    expect(review.locator("#request-erased")).to_contain_text("no longer held")
    row = page.locator("#requests-table tr", has_text="DSR-2026-1")
    expect(row).to_contain_text("completed")
    assert not face_exists(web, obama)
    with web.client(Role.ADMIN) as api:
        done = api.get(f"/subject-requests/{request_id}").raise_for_status().json()["request"]
    assert (done["status"], done["faces_erased"]) == ("completed", 1)
    assert done["confirmed_by"].endswith(" admin-web")
    # Opted out: the same photo uploaded again is not kept.
    again = web.upload("press", photos / "obama.jpg")
    assert again["faces_suppressed"] == 1, again
    assert console_errors == []


def test_given_an_access_request_then_the_report_holds_only_the_confirmed_faces(
    web: Web,
    page: Page,
    console_errors: ConsoleErrors,
    gallery: dict[str, int],
    astronaut: Path,
    photos: Path,
    tmp_path: Path,
) -> None:
    biden = gallery["biden.jpg"]
    page.goto(web.url)
    sign_in(page, web.keys[Role.ADMIN])
    go(page, "requests")
    photo = tmp_path / "biden-mirrored.jpg"  # another photo of him than the one held
    Image.open(photos / "biden.jpg").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(photo)
    form = page.locator("#request-form")
    form.get_by_label("Kind").select_option("access")
    form.get_by_label("Request reference").fill("SAR-77")
    form.get_by_label("Photos of the requester").set_input_files(photo)
    form.get_by_role("button", name="Find candidates").click()
    review = page.locator("#request-review")
    expect(review.locator("#review-title")).to_contain_text("access request SAR-77")
    card = review.locator(f".candidate[data-face='{biden}']")
    expect(card).to_contain_text("archive")
    assert_accessible(page, "admin-requests-review")

    # Nothing is disclosed before the confirmation.
    with web.client(Role.ADMIN) as api:
        request_id = max(r["id"] for r in api.get("/subject-requests").json())
        assert api.get(f"/subject-requests/{request_id}/report").status_code == 409

    card.get_by_label(f"Face {biden} is the requester's").check()
    page.get_by_role("button", name="Continue to the report").click()
    step = page.locator("#request-confirm-step")
    expect(step).to_contain_text("Disclose 1 face to the requester in the access report?")
    step.get_by_role("button", name="Confirm for the report").click()
    expect(page.locator("#message")).to_contain_text(
        f"Request {request_id} completed: 1 face confirmed for the access report."
    )
    report = page.locator("#access-report")
    expect(report).to_contain_text("1 face held that are the requester's")
    expect(report.locator("tbody tr")).to_have_count(1)
    expect(report.locator("tbody tr")).to_contain_text("archive")
    expect(report.locator("tbody tr")).to_contain_text("testing facelens")
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download the report to send the requester").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(downloading.value.path()).read_bytes()))
    sent = json.loads(archive.read("report.json"))
    assert [f["face_id"] for f in sent["faces"]] == [biden]
    assert face_exists(web, biden), "access erases nothing"

    # Someone not held: no match, answered at once, and the report says nothing is held.
    form.get_by_label("Kind").select_option("access")
    form.get_by_label("Request reference").fill("SAR-78")
    form.get_by_label("Photos of the requester").set_input_files(astronaut)
    form.get_by_role("button", name="Find candidates").click()
    expect(review.locator("#review-title")).to_contain_text("SAR-78")
    expect(review.locator("#request-status")).to_contain_text("no match")
    expect(page.locator("#access-report")).to_contain_text("No face held is the requester's.")
    expect(page.locator("#requests-table tr", has_text="SAR-78")).to_contain_text("no match")
    assert console_errors == []


def test_given_an_unknown_request_number_then_the_banner_says_so_and_the_next_action_clears_it(
    web: Web, page: Page
) -> None:
    page.goto(web.url)
    sign_in(page, web.keys[Role.ADMIN])
    go(page, "requests")
    page.get_by_label("Request number").fill("987654")
    page.get_by_role("button", name="Reopen", exact=True).click()
    message = page.locator("#message")
    expect(message).to_contain_text("987654")
    expect(message).to_have_class("error")
    page.get_by_label("Request number").fill("")
    go(page, "consent")
    expect(message).to_be_hidden()


# --- consent --------------------------------------------------------------------------------


def test_given_a_consent_then_it_is_recorded_and_withdrawn_after_a_second_step(
    web: Web,
    page: Page,
    console_errors: ConsoleErrors,
    volunteers: str,
    grace_hopper: Path,
) -> None:
    page.goto(web.url)
    sign_in(page, web.keys[Role.ADMIN])
    go(page, "consent")
    form = page.locator("#consent-form")
    expect(form.get_by_label(volunteers)).to_be_visible()  # the scope: chosen from the list
    assert_accessible(page, "admin-consent")
    form.get_by_label("Subject reference").fill("VOL-12")
    form.get_by_label("Purpose").fill("volunteer identification")
    form.get_by_label(volunteers).check()
    form.get_by_label("Evidence reference").fill("signed form, cabinet 3")
    form.get_by_label("Expires").fill("2099-12-31T12:00")
    form.get_by_role("button", name="Record consent").click()
    expect(page.locator("#message")).to_contain_text("of VOL-12 recorded")
    row = page.locator("#consents-table tbody tr", has_text="VOL-12")
    expect(row).to_contain_text("volunteers")
    expect(row).to_contain_text("signed form, cabinet 3")
    expect(row).to_contain_text("valid")
    expect(row).to_contain_text("2099")
    consent_id = int(row.locator("td").first.inner_text())
    face = enrol(web, volunteers, "Grace Hopper", grace_hopper, consent_id)

    go(page, "accounts")
    go(page, "consent")  # afresh: now with the person enrolled under it
    expect(row).to_contain_text("person ")
    withdraw = row.get_by_role("button", name=f"Withdraw consent {consent_id} (VOL-12)")
    # By keyboard: the step is asked, Escape cancels it and focus goes back.
    withdraw.focus()
    page.keyboard.press("Enter")
    step = page.locator("#withdraw-step")
    expect(step).to_contain_text(f"Withdraw consent {consent_id} of VOL-12?")
    expect(step).to_contain_text("erased at once")
    expect(step).to_be_focused()
    page.keyboard.press("Escape")
    expect(step).to_have_count(0)
    expect(withdraw).to_be_focused()
    assert face_exists(web, face)

    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # to "Withdraw and erase"
    expect(page.get_by_role("button", name="Withdraw and erase")).to_be_focused()
    page.keyboard.press("Enter")
    outcome = page.locator("#consent-outcome")
    expect(outcome).to_contain_text(f"Consent {consent_id} withdrawn: 1 face and 1 image erased.")
    expect(page.locator("#consents-table tbody tr", has_text="VOL-12")).to_contain_text("withdrawn")
    assert not face_exists(web, face)
    assert console_errors == []


# --- retention ------------------------------------------------------------------------------


def test_given_a_lapsed_consent_then_a_retention_run_erases_its_face_and_reports_it(
    web: Web,
    page: Page,
    console_errors: ConsoleErrors,
    volunteers: str,
    photos: Path,
) -> None:
    expiry = datetime.now(UTC) + timedelta(seconds=20)
    consent_id = add_consent(web, "VOL-20", volunteers, expires_at=expiry)
    face = enrol(web, volunteers, "Joe Biden", photos / "biden.jpg", consent_id)
    page.goto(web.url)
    sign_in(page, web.keys[Role.ADMIN])
    go(page, "retention")
    assert_accessible(page, "admin-retention")
    while datetime.now(UTC) <= expiry:  # the consent lapses
        time.sleep(0.5)

    page.get_by_role("button", name="Run retention now").click()
    report = page.locator("#retention-report")
    expect(report.locator("#retention-summary")).to_contain_text("1 face deleted")
    expect(report.locator("#retention-summary")).to_contain_text("1 consent lapsed")
    expect(report.locator("#retention-consents")).to_contain_text(str(consent_id))
    expect(report).to_contain_text("None: every collection was run.")
    expect(page.locator("#retention-report-title")).to_be_focused()
    assert not face_exists(web, face)
    assert_accessible(page, "admin-retention-report")

    # A second run finds nothing more.
    page.get_by_role("button", name="Run retention now").click()
    expect(report.locator("#retention-summary")).to_contain_text(
        "0 images and 0 faces deleted; 0 consents lapsed."
    )
    assert console_errors == []


# --- the transparency report ----------------------------------------------------------------


def test_given_an_auditor_then_the_transparency_report_shows_and_downloads(
    web: Web, page: Page, console_errors: ConsoleErrors, photos: Path
) -> None:
    with web.client(Role.ANALYST) as api:
        probe = [("image", ("obama3.jpg", (photos / "obama3.jpg").read_bytes(), "image/jpeg"))]
        api.post(
            "/searches", files=probe, data={"purpose": "web transparency", "case_ref": "T-1"}
        ).raise_for_status()
        assert api.post("/searches", files=probe).status_code >= 400  # no purpose: refused
    page.goto(web.url)
    sign_in(page, web.keys[Role.AUDITOR])
    go(page, "transparency")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    page.get_by_label("Since").fill(yesterday)
    page.get_by_role("button", name="Show report").click()
    expect(page.locator("#transparency-period")).to_be_visible()
    purposes = page.locator("#transparency-searches-by-purpose")
    expect(purposes.locator("tr", has_text="web transparency")).to_contain_text("1")
    expect(page.locator("#transparency-refusals-by-rule tbody tr")).not_to_have_count(0)
    expect(page.locator("#transparency-totals")).to_contain_text("Retention runs")
    assert_accessible(page, "admin-transparency")

    with web.client(Role.AUDITOR) as api:
        expected = api.get(
            "/reports/transparency", params={"since": f"{yesterday}T00:00:00Z"}
        ).json()
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download JSON").click()
    sent = json.loads(Path(downloading.value.path()).read_text())
    assert sent["searches_by_purpose"] == expected["searches_by_purpose"]
    assert sent["refusals_by_rule"] == expected["refusals_by_rule"]
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download CSV").click()
    assert downloading.value.suggested_filename.endswith(".csv")
    lines = Path(downloading.value.path()).read_text().splitlines()
    assert lines[0] == "Section,Item,Count"
    searched = expected["searches_by_purpose"]["web transparency"]
    assert f"Searches by purpose,web transparency,{searched}" in lines
    assert console_errors == []


# --- a narrow screen ------------------------------------------------------------------------


def test_given_a_400px_screen_then_no_admin_page_scrolls_sideways_and_all_are_accessible(
    web: Web, gallery: dict[str, int]
) -> None:
    with browser_page(width=400, height=800) as narrow:
        errors = ConsoleErrors()
        errors.watch(narrow)
        narrow.goto(web.url)
        sign_in(narrow, web.keys[Role.ADMIN])
        for page_id in ADMIN_PAGES:
            narrow.goto(f"{web.url}/ui/#{page_id}")
            expect(narrow.locator(f"#{page_id}-page")).to_be_visible()
            if page_id == "transparency":
                narrow.get_by_role("button", name="Show report").click()
                expect(narrow.locator("#transparency-period")).to_be_visible()
            if page_id == "retention":
                narrow.get_by_role("button", name="Run retention now").click()
                expect(narrow.locator("#retention-report")).to_be_visible()
            if page_id in ("accounts", "requests", "consent"):
                expect(narrow.locator(f"#{page_id}-page .table-wrap, #{page_id}-page .hint")
                       .first).to_be_visible()  # fmt: skip
            no_page_scrolls_sideways(narrow)
            assert_accessible(narrow, f"admin-{page_id}-400px")
        assert errors == []
