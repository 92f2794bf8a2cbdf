"""Upload and collections in a real browser against the real server, with real photos: the
server's progress file by file, a report of what became of every file and face, errors in a
browser user's words; collections with their legal basis, a policy edited, a collection
deleted after its name is typed, a collection's images browsed and deleted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, Request, expect

from facelens.security.accounts import Role
from tests.test_not_indexed import hopper_and_small_obama
from tests.web.browser import (
    ConsoleErrors,
    assert_accessible,
    go,
    no_page_scrolls_sideways,
    sign_in,
)
from tests.web.conftest import Web

pytestmark = pytest.mark.slow

POLICY = {"basis": "contract", "jurisdictions": ["GB"], "purpose": "fraud prevention",
          "retention_days": 90}  # fmt: skip


def uploads_sent(page: Page, collection: str) -> list[Request]:
    sent: list[Request] = []
    page.on("request", lambda r: sent.append(r) if r.method == "POST"
            and r.url.endswith(f"/collections/{collection}/images") else None)  # fmt: skip
    return sent


def test_given_photos_of_every_kind_then_the_upload_reports_each_file_and_face(
    web: Web,
    page: Page,
    photos: Path,
    grace_hopper: Path,
    tmp_path: Path,
    console_errors: ConsoleErrors,
) -> None:
    """Issue 17: the progress bar covered only the transfer; duplicates and faces rejected
    were not reported; a failure showed the server's full path and widened the page; Upload
    could be clicked twice."""
    hopper_and_small_obama(photos, grace_hopper, tmp_path)  # one face indexed, one too small
    again = tmp_path / "obama-again.jpg"  # the same bytes under another name: a duplicate
    shutil.copy(photos / "obama.jpg", again)
    not_a_photo = tmp_path / ("notes-" + "very-long-name-" * 12 + ".jpg")
    not_a_photo.write_text("not a photo")
    chosen = [photos / "obama.jpg", again, not_a_photo, tmp_path / "hopper-and-small-obama.jpg"]

    page.goto(web.url)
    sign_in(page, web.keys[Role.ENROLLER])
    go(page, "upload")
    sent = uploads_sent(page, "press")
    page.select_option("#upload-collection", "press")
    page.set_input_files("#files", [str(p) for p in chosen])
    page.locator(".provenance-fields summary").click()
    page.fill("#licence-ref", "warrant W-1")
    page.locator("#upload-button").dblclick()
    expect(page.locator("#upload-status")).to_have_text("Done: 4 of 4 files processed.",
                                                        timeout=120_000)  # fmt: skip
    assert len(sent) == 4, "each file sent once, one at a time, however often Upload is hit"
    assert page.locator("#upload-progress").evaluate("p => [p.value, p.max]") == [4, 4]
    rows = page.locator("#upload-table tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_contain_text("stored")
    expect(rows.nth(1)).to_contain_text("skipped: already in this collection")
    expect(rows.nth(2)).to_contain_text("failed: ")
    expect(rows.nth(2)).to_contain_text("not an image format facelens can read")
    expect(rows.nth(3)).to_contain_text("1 too small")
    expect(page.locator("#upload-report")).to_have_text(
        "2 images stored, 2 faces indexed; 1 duplicate skipped (already in the collection); "
        "faces not indexed: 1 too blurry, 1 too small; 0 faces suppressed (people who opted "
        "out: not stored); 1 file failed."
    )
    text = page.locator("#upload-page").inner_text()
    for server_side in (str(web.settings.data_dir), "/tmp/", "/work/"):
        assert server_side not in text, f"the server's path {server_side} shown"
    no_page_scrolls_sideways(page)
    assert_accessible(page, "upload")
    assert console_errors == []
    # The provenance given went with every stored image.
    with web.client(Role.ADMIN) as api:
        images = api.get("/collections/press/images").raise_for_status().json()
    assert {i["provenance"]["licence_ref"] for i in images} == {"warrant W-1"}


def test_given_a_collection_gone_then_the_upload_says_so_without_a_cli_command(
    web: Web, page: Page, photos: Path
) -> None:
    """Issue 17: the missing-collection error told a browser user to run a CLI command."""
    with web.client(Role.ADMIN) as api:
        api.post("/collections", json={"name": "soon-gone", **POLICY}).raise_for_status()
    page.goto(web.url)
    sign_in(page, web.keys[Role.ENROLLER])
    go(page, "upload")
    page.select_option("#upload-collection", "soon-gone")
    with web.client(Role.ADMIN) as api:  # deleted by another admin meanwhile
        api.delete("/collections/soon-gone").raise_for_status()
    page.set_input_files("#files", [str(photos / "biden.jpg")])
    page.click("#upload-button")
    message = page.locator("#message")
    expect(message).to_contain_text("there is no collection 'soon-gone'")
    expect(message).to_contain_text("on the Collections page")
    expect(message).not_to_contain_text("facelens collection")
    expect(page.locator("#upload-table tbody tr")).to_contain_text("not sent")


def create_collection(
    form: Locator, name: str, basis: str, jurisdictions: str, purpose: str, days: int
) -> None:
    form.locator("[name=name]").fill(name)
    form.locator("[name=basis]").select_option(basis)
    form.locator("[name=jurisdictions]").fill(jurisdictions)
    form.locator("[name=purpose]").fill(purpose)
    form.locator("[name=retention_days]").fill(str(days))
    form.locator("button").click()


def test_given_an_admin_then_a_collection_is_made_its_policy_edited_and_it_is_deleted(
    web: Web, page: Page, photos: Path, console_errors: ConsoleErrors
) -> None:
    page.goto(web.url)
    sign_in(page, web.keys[Role.ADMIN])
    go(page, "collections")
    form = page.locator("#collection-form")
    create_collection(form, "fraud-2026", "contract", "gb, ie", "fraud prevention", 180)
    row = page.locator("#collections-table tr", has_text="fraud-2026")
    expect(row).to_contain_text("contract; GB, IE; fraud prevention; kept 180 days")
    assert_accessible(page, "collections")
    # Without a text, the basis "other" is refused with the reason shown, before it is sent.
    create_collection(form, "misc", "other", "GB", "anything", 30)
    expect(page.locator("#message")).to_contain_text("needs a text")

    page.click("#edit-fraud-2026")
    expect(page.locator("#policy-title")).to_be_focused()
    page.fill("#policy-retention-days", "60")
    page.check("#policy-seal")
    page.click("#policy-save")
    expect(page.locator("#message")).to_contain_text("The legal basis of fraud-2026 is saved")
    expect(row).to_contain_text("kept 60 days; locations sealed")

    web.upload("fraud-2026", photos / "biden.jpg")
    page.reload()
    go(page, "collections")
    page.click("#delete-fraud-2026")
    confirm = page.locator("#delete-collection")
    expect(confirm).to_contain_text("its 1 image and 1 indexed face are erased")
    page.fill("#delete-collection-name", "fraud-202")  # not quite its name: nothing happens
    page.click("#delete-collection-yes")
    expect(page.locator("#message")).to_contain_text("Type the collection's name, fraud-2026")
    expect(row).to_be_visible()
    page.fill("#delete-collection-name", "fraud-2026")
    page.click("#delete-collection-yes")
    expect(page.locator("#message")).to_contain_text("Collection fraud-2026 deleted: 1 face")
    expect(row).to_have_count(0)
    with web.client(Role.ADMIN) as api:
        assert "fraud-2026" not in api.get("/collections").json()
    assert console_errors == []


def test_given_an_enroller_then_a_collections_images_are_browsed_and_one_deleted(
    web: Web, page: Page, photos: Path
) -> None:
    web.upload("archive", photos / "obama2.jpg", origin_url="https://archive.example/2")
    page.goto(web.url)
    sign_in(page, web.keys[Role.ENROLLER])
    go(page, "collections")
    expect(page.locator("#collection-form")).to_have_count(0)  # enrollers make none
    expect(page.locator("#edit-archive")).to_have_count(0)
    page.click("#images-archive")
    table = page.locator("#images-table")
    image = table.locator("tr", has_text="obama2.jpg")
    expect(image).to_contain_text("https://archive.example/2")
    assert_accessible(page, "collection-images")
    image.get_by_role("button", name="Delete image").click()
    page.locator("[id^=delete-image-][id$=-yes]").click()
    expect(page.locator("#message")).to_contain_text("deleted: 1 face removed")
    expect(table.locator("tr", has_text="obama2.jpg")).to_have_count(0)


def test_given_an_analyst_then_collections_are_shown_without_any_change_to_them(
    web: Web, page: Page
) -> None:
    """Issue 17: `display` given to nav, form and #probe-view overrode `hidden`, so the
    navigation showed before sign-in, the collection form to analysts and a broken image
    before any search."""
    page.goto(web.url)
    expect(page.locator("#signin-page")).to_be_visible()
    expect(page.locator("#nav")).to_be_hidden()
    sign_in(page, web.keys[Role.ANALYST])
    expect(page.locator("#probe-view")).to_be_hidden()  # no search yet: no empty image
    go(page, "collections")
    expect(page.locator("#collections-table")).to_contain_text("press")
    expect(page.locator("#collection-form")).to_have_count(0)
    expect(page.locator("#collections-table button")).to_have_count(0)
