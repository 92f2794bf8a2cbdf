"""The Persons page in the browser, on the real server with real photos: an enroller creates
persons from faces, renames, assigns, merges, splits, says "not this person" and withdraws
it, checks the reference faces and deletes a person after an inline confirmation; each step
checked on the page and through the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from facelens.security.accounts import Role
from tests.web.browser import ConsoleErrors, assert_accessible, go, sign_in
from tests.web.conftest import Web

pytestmark = pytest.mark.slow

PHOTOS = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")


@pytest.fixture(scope="module")
def enroller_api(web: Web) -> Iterator[httpx.Client]:
    with web.client(Role.ENROLLER) as api:
        yield api


@pytest.fixture(scope="module")
def faces(enroller_api: httpx.Client, photos: Path) -> dict[str, int]:
    """The photos in collection "press": each photo's (largest) face id, by file name."""
    files = [("files", (name, (photos / name).read_bytes(), "image/jpeg")) for name in PHOTOS]
    enroller_api.post("/collections/press/images", files=files).raise_for_status()
    images = enroller_api.get("/collections/press/images").raise_for_status().json()
    found = {Path(i["location"]).name: i["face_ids"][0] for i in images if i["face_ids"]}
    assert set(found) == set(PHOTOS)
    return found


def persons(api: httpx.Client) -> dict[str, list[int]]:
    """Every person's name and face ids, by the API."""
    listed: list[dict[str, Any]] = api.get("/persons").raise_for_status().json()
    return {p["name"]: sorted(p["face_ids"]) for p in listed}


def person_id(api: httpx.Client, name: str) -> int:
    found: list[dict[str, Any]] = api.get("/persons").raise_for_status().json()
    return next(int(p["id"]) for p in found if p["name"] == name)


def detail(page: Page) -> Locator:
    return page.locator("#person-detail")


def open_person(page: Page, name: str) -> None:
    page.get_by_role("button", name=f"Open {name}", exact=True).click()
    expect(page.locator("#person-detail-title")).to_have_text(name)


def notice(page: Page, text: str) -> None:
    expect(page.locator("#message.notice")).to_contain_text(text)


def create(page: Page, name: str, face_ids: str) -> None:
    form = page.locator("#create-person-form")
    form.get_by_label("New person's name").fill(name)
    form.get_by_label("Their faces (ids, optional)").fill(face_ids)
    form.get_by_role("button", name="Create person").click()
    expect(page.locator("#person-detail-title")).to_have_text(name)


def test_enroller_creates_renames_assigns_merges_and_splits(
    web: Web, page: Page, console_errors: ConsoleErrors, faces: dict[str, int],
    enroller_api: httpx.Client,
) -> None:  # fmt: skip
    page.goto(web.url)
    sign_in(page, web.keys[Role.ENROLLER])
    go(page, "persons")
    expect(page.locator("#persons-title")).to_have_text("Persons")

    # Created from faces typed by id; the panel names them by image, not by pixels.
    create(page, "Barack Obama", f"{faces['obama.jpg']}, {faces['obama2.jpg']}")
    notice(page, "Barack Obama created with 2 faces")
    expect(detail(page).locator("#person-faces tbody tr")).to_have_count(2)
    expect(detail(page).locator("#person-faces")).to_contain_text("obama2.jpg")
    expect(detail(page)).not_to_contain_text("null")
    assert persons(enroller_api)["Barack Obama"] == sorted(
        [faces["obama.jpg"], faces["obama2.jpg"]]
    )
    assert_accessible(page, "enroller-persons")

    # Created from a face chosen among a collection's images.
    form = page.locator("#create-person-form")
    form.get_by_label("New person's name").fill("Joe Bidn")
    form.locator("summary").click()
    form.get_by_label("Collection").select_option("press")
    form.get_by_role("button", name="Show its faces").click()
    picked = form.get_by_label(f"Face {faces['biden.jpg']} of biden.jpg")
    picked.check()
    expect(form.get_by_label("Their faces (ids, optional)")).to_have_value(str(faces["biden.jpg"]))
    owned = form.locator("#create-faces li", has_text=f"Face {faces['obama.jpg']} of")
    expect(owned).to_contain_text("now Barack Obama")
    form.get_by_role("button", name="Create person").click()
    expect(page.locator("#person-detail-title")).to_have_text("Joe Bidn")
    assert persons(enroller_api)["Joe Bidn"] == [faces["biden.jpg"]]

    # Renamed.
    rename = page.locator("#rename-form")
    rename.get_by_label("New name").fill("Joe Biden")
    rename.get_by_role("button", name="Rename").click()
    expect(page.locator("#person-detail-title")).to_have_text("Joe Biden")
    notice(page, "Renamed to Joe Biden")
    names = persons(enroller_api)
    assert "Joe Biden" in names and "Joe Bidn" not in names
    expect(page.locator("#persons-list")).to_contain_text("Joe Biden")

    # Assigned a face by id.
    open_person(page, "Barack Obama")
    assign = page.locator("#assign-form")
    assign.get_by_label("Face ids to assign").fill(str(faces["obama3.jpg"]))
    assign.get_by_role("button", name="Assign faces").click()
    notice(page, "1 faces assigned to Barack Obama")
    expect(detail(page).locator("#person-faces tbody tr")).to_have_count(3)
    assert faces["obama3.jpg"] in persons(enroller_api)["Barack Obama"]

    # Merged: Joe Biden's face moves to Barack Obama and Joe Biden is gone.
    merge = page.locator("#merge-form")
    merge.get_by_label("Merge into this person").select_option(label="Joe Biden (1 faces)")
    merge.get_by_role("button", name="Merge").click()
    notice(page, "Joe Biden merged into Barack Obama")
    expect(detail(page).locator("#person-faces tbody tr")).to_have_count(4)
    expect(page.get_by_role("button", name="Open Joe Biden")).to_have_count(0)
    names = persons(enroller_api)
    assert "Joe Biden" not in names
    assert names["Barack Obama"] == sorted(faces.values())

    # Split: the ticked face becomes a new person, the rest stay.
    detail(page).get_by_label(f"Move face {faces['biden.jpg']}").check()
    split = page.locator("#split-form")
    split.get_by_label("Name of the new person").fill("Joe Biden")
    split.get_by_role("button", name="Split off").click()
    expect(page.locator("#person-detail-title")).to_have_text("Joe Biden")
    notice(page, "1 faces moved from Barack Obama to the new person Joe Biden")
    names = persons(enroller_api)
    assert names["Joe Biden"] == [faces["biden.jpg"]]
    assert faces["biden.jpg"] not in names["Barack Obama"]
    assert len(names["Barack Obama"]) == 3
    assert console_errors == []


def test_not_this_person_and_its_withdrawal(
    web: Web, page: Page, console_errors: ConsoleErrors, faces: dict[str, int],
    enroller_api: httpx.Client,
) -> None:  # fmt: skip
    page.goto(web.url)
    sign_in(page, web.keys[Role.ENROLLER])
    go(page, "persons")
    create(page, "Obama reviewed", f"{faces['obama.jpg']}, {faces['obama3.jpg']}")
    pid = person_id(enroller_api, "Obama reviewed")

    # From the faces table: the face is taken from the person and the rejection listed.
    detail(page).get_by_role("button", name=f"Not this person (face {faces['obama3.jpg']})").click()
    notice(page, f'Face {faces["obama3.jpg"]} marked "not Obama reviewed"')
    expect(detail(page).locator("#person-faces tbody tr")).to_have_count(1)
    rejections = page.locator("#rejections")
    expect(rejections.locator("tbody tr")).to_have_count(1)
    expect(rejections).to_contain_text("enroller-web")
    standing = enroller_api.get(f"/persons/{pid}/rejections").raise_for_status().json()
    assert [r["face_id"] for r in standing] == [faces["obama3.jpg"]]
    assert persons(enroller_api)["Obama reviewed"] == [faces["obama.jpg"]]

    # By face id, for a face that was never theirs.
    reject = page.locator("#reject-form")
    reject.get_by_label("Face id that is not this person").fill(str(faces["biden.jpg"]))
    reject.get_by_role("button", name="Not this person").click()
    expect(rejections.locator("tbody tr")).to_have_count(2)

    # Withdrawn: gone from the standing list, on record with who withdrew it.
    rejections.get_by_role("button", name=f"Withdraw (face {faces['obama3.jpg']})").click()
    notice(page, f"withdrawn for face {faces['obama3.jpg']}")
    expect(rejections.locator("tbody tr")).to_have_count(1)
    standing = enroller_api.get(f"/persons/{pid}/rejections").raise_for_status().json()
    assert [r["face_id"] for r in standing] == [faces["biden.jpg"]]
    every = enroller_api.get(f"/persons/{pid}/rejections?withdrawn=true").raise_for_status()
    withdrawn = [r for r in every.json() if r["withdrawn_at"]]
    assert [(r["face_id"], r["withdrawn_by"]) for r in withdrawn] == [
        (faces["obama3.jpg"], withdrawn[0]["withdrawn_by"])
    ]
    assert "enroller-web" in withdrawn[0]["withdrawn_by"]
    detail(page).get_by_label("Show withdrawn ones too").check()
    expect(rejections.locator("tbody tr")).to_have_count(2)
    expect(rejections).to_contain_text("by ")

    # Withdrawn, the face may be theirs again.
    assign = page.locator("#assign-form")
    assign.get_by_label("Face ids to assign").fill(str(faces["obama3.jpg"]))
    assign.get_by_role("button", name="Assign faces").click()
    expect(detail(page).locator("#person-faces tbody tr")).to_have_count(2)

    # The reference check: one row a face, with a summary.
    detail(page).get_by_role("button", name="Check reference faces").click()
    expect(page.locator("#references-summary")).to_be_visible()
    expect(page.locator("#references tbody tr")).to_have_count(2)
    expect(page.locator("#references")).to_contain_text("obama3.jpg")
    assert console_errors == []


def test_delete_asks_first(
    web: Web, page: Page, console_errors: ConsoleErrors, faces: dict[str, int],
    enroller_api: httpx.Client, photos: Path,
) -> None:  # fmt: skip
    # A face of its own, in the other collection, so deleting it leaves the others' alone.
    files = [("files", ("biden.jpg", (photos / "biden.jpg").read_bytes(), "image/jpeg"))]
    enroller_api.post("/collections/archive/images", files=files).raise_for_status()
    images = enroller_api.get("/collections/archive/images").raise_for_status().json()
    doomed = images[0]["face_ids"][0]

    page.goto(web.url)
    sign_in(page, web.keys[Role.ENROLLER])
    go(page, "persons")
    create(page, "To be deleted", str(doomed))
    confirm = page.locator("#delete-confirm")
    expect(confirm).to_be_hidden()

    # Asked (by keyboard), then cancelled: nothing deleted, focus back on the button.
    ask = detail(page).get_by_role("button", name="Delete person")
    ask.focus()
    page.keyboard.press("Enter")
    expect(confirm).to_be_visible()
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    expect(confirm).to_contain_text("cannot be undone")
    page.keyboard.press("Enter")
    expect(confirm).to_be_hidden()
    expect(ask).to_be_focused()
    assert "To be deleted" in persons(enroller_api)

    # Asked, then confirmed: the person and their face are gone.
    detail(page).get_by_role("button", name="Delete person").click()
    confirm.get_by_role("button", name="Yes, delete To be deleted").click()
    notice(page, "To be deleted deleted, with 1 faces")
    expect(detail(page)).to_be_hidden()
    expect(page.get_by_role("button", name="Open To be deleted")).to_have_count(0)
    assert "To be deleted" not in persons(enroller_api)
    assert enroller_api.get(f"/faces/{doomed}").status_code == 404
    assert console_errors == []


def test_a_refusal_is_shown_in_words(
    web: Web, page: Page, faces: dict[str, int], enroller_api: httpx.Client
) -> None:
    page.goto(web.url)
    sign_in(page, web.keys[Role.ENROLLER])
    go(page, "persons")
    create(page, "One face only", "")
    assign = page.locator("#assign-form")
    assign.get_by_label("Face ids to assign").fill("not a number")
    assign.get_by_role("button", name="Assign faces").click()
    expect(page.locator("#message.error")).to_contain_text("Give face ids")
    page.locator("#split-form").get_by_label("Name of the new person").fill("Nobody")
    page.locator("#split-form").get_by_role("button", name="Split off").click()
    expect(page.locator("#message.error")).to_contain_text("Tick the faces")
    # A face that does not exist: the server's refusal, in the banner, the form usable again.
    assign.get_by_label("Face ids to assign").fill("999999")
    assign.get_by_role("button", name="Assign faces").click()
    expect(page.locator("#message.error")).to_be_visible()
    expect(assign.get_by_role("button", name="Assign faces")).to_be_enabled()
    assert persons(enroller_api)["One face only"] == []


def test_persons_fit_a_narrow_screen(
    web: Web, page: Page, console_errors: ConsoleErrors, faces: dict[str, int]
) -> None:
    page.set_viewport_size({"width": 400, "height": 800})
    page.goto(web.url)
    sign_in(page, web.keys[Role.ENROLLER])
    go(page, "persons")
    create(page, "Narrow screen", f"{faces['obama.jpg']}, {faces['obama2.jpg']}")
    detail(page).get_by_role("button", name="Check reference faces").click()
    expect(page.locator("#references tbody tr")).to_have_count(2)
    page.locator("#create-person-form summary").click()
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert_accessible(page, "enroller-persons-400px")
    assert console_errors == []


def test_admin_browses_persons_read_only(
    web: Web, page: Page, console_errors: ConsoleErrors, faces: dict[str, int],
    enroller_api: httpx.Client,
) -> None:  # fmt: skip
    enroller_api.post("/persons", json={"name": "Seen by the admin"}).raise_for_status()
    page.goto(web.url)
    sign_in(page, web.keys[Role.ADMIN])
    go(page, "persons")
    expect(page.locator("#create-person-form")).to_have_count(0)
    open_person(page, "Seen by the admin")
    for form in ("#rename-form", "#assign-form", "#split-form", "#merge-form", "#reject-form"):
        expect(page.locator(form)).to_have_count(0)
    expect(detail(page).get_by_role("button", name="Delete person")).to_have_count(0)
    assert_accessible(page, "admin-persons")
    assert console_errors == []


def test_analyst_sees_no_persons_nor_audit(
    web: Web, page: Page, console_errors: ConsoleErrors
) -> None:
    page.goto(web.url)
    sign_in(page, web.keys[Role.ANALYST])
    expect(page.locator("#nav a[href='#history']")).to_be_visible()
    expect(page.locator("#nav a[href='#persons']")).to_have_count(0)
    expect(page.locator("#nav a[href='#audit']")).to_have_count(0)
    # Nor by typing the address: the router lands on a page the role may open.
    page.goto(f"{web.url}/#persons")
    page.reload()
    expect(page.locator("#nav")).to_be_visible()
    expect(page.locator("#persons-page")).to_have_count(0)
    assert console_errors == []
