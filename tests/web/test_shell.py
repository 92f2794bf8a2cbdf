"""The interface as a whole, in a real browser: every page each role may use and no other,
each checked by axe-core and saved as a screenshot, on a wide screen and at 400 px, with
nothing logged to the console (the 401 on GET /session and the missing favicon included)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from facelens.security.accounts import PERMISSIONS, Action, Role
from tests.web.browser import (
    ConsoleErrors,
    assert_accessible,
    browser_page,
    go,
    no_page_scrolls_sideways,
    sign_in,
)
from tests.web.conftest import Web

pytestmark = pytest.mark.slow

#: Every page in the navigation's order, and the actions any one of which opens it.
PAGES: dict[str, set[Action]] = {
    "search": {Action.SEARCH},
    "verify": {Action.SEARCH},
    "by-person": {Action.SEARCH},
    "upload": {Action.INGEST},
    "persons": {Action.BROWSE},
    "collections": {Action.VIEW_COLLECTIONS},
    "accounts": {Action.MANAGE_ACCOUNTS},
    "requests": {Action.HANDLE_SUBJECT_REQUESTS},
    "consent": {Action.MANAGE_CONSENT},
    "retention": {Action.RUN_RETENTION},
    "history": {Action.READ_OWN_SEARCHES, Action.READ_ALL_SEARCHES},
    "audit": {Action.READ_AUDIT},
    "transparency": {Action.READ_REPORTS},
}


def pages_of(role: Role) -> list[str]:
    return [page for page, needs in PAGES.items() if needs & PERMISSIONS[role]]


def test_given_no_session_then_the_sign_in_page_loads_without_an_error(web: Web) -> None:
    """Issue 17: before sign-in the page logged a 401 from GET /session and a 404 for the
    favicon."""
    with browser_page() as page:
        errors = ConsoleErrors()
        errors.watch(page)
        failed: list[str] = []
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400
                else None)  # fmt: skip
        page.goto(web.url)
        expect(page.locator("#signin-page")).to_be_visible()
        page.wait_for_load_state("networkidle")
        icon = page.locator("link[rel=icon]").get_attribute("href")
        assert icon
        answer = page.request.get(f"{web.url}/ui/{icon}")
        assert answer.status == 200
        assert answer.headers["content-type"].startswith("image/svg+xml")
        assert errors == [] and failed == []
        assert_accessible(page, "signin")
        page.fill("#key", "fl_1_wrong")
        page.click("#signin-form button")
        expect(page.locator("#message")).to_contain_text("not valid")


@pytest.mark.parametrize("role", list(Role))
def test_given_a_role_then_it_has_every_page_it_may_use_and_no_other(
    web: Web, page: Page, console_errors: ConsoleErrors, role: Role
) -> None:
    elsewhere: list[str] = []  # nothing from a CDN or any other server
    page.on("request", lambda r: None if r.url.startswith((web.url, "blob:", "data:"))
            else elsewhere.append(r.url))  # fmt: skip
    page.goto(web.url)
    sign_in(page, web.keys[role])
    expected = pages_of(role)
    links = page.locator("#nav-links a")
    assert [link.get_attribute("data-page") for link in links.all()] == expected
    expect(page.locator(f"#{expected[0]}-page")).to_be_visible()  # lands on the first
    expect(page.locator("#who")).to_have_text(f"{role}-web ({role})")
    for page_id in expected:
        go(page, page_id)
        expect(page.locator(f"#nav a[data-page='{page_id}']")).to_have_attribute(
            "aria-current", "page"
        )
        expect(page.locator(f"#{page_id}-page h1")).to_be_visible()
        assert page.title().endswith("· facelens")
        page.wait_for_load_state("networkidle")
        assert_accessible(page, f"{role}-{page_id}")
    # A page it may not use is not there, even by its address.
    for page_id in set(PAGES) - set(expected):
        page.goto(f"{web.url}/ui/#{page_id}")
        expect(page.locator(f"#{expected[0]}-page")).to_be_visible()
        expect(page.locator(f"#{page_id}-page")).to_have_count(0)
    assert console_errors == []
    assert elsewhere == []


@pytest.mark.parametrize("role", list(Role))
def test_given_a_400px_screen_then_every_link_and_page_fits(web: Web, role: Role) -> None:
    """Issue 17: at 420 px the navigation was cut off."""
    with browser_page(width=400, height=800) as page:
        page.goto(web.url)
        sign_in(page, web.keys[role])
        for link in page.locator("#nav-links a").all():
            box = link.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 400, link.text_content()
            expect(link).to_be_visible()
        no_page_scrolls_sideways(page)
        for page_id in pages_of(role):
            go(page, page_id)
            page.wait_for_load_state("networkidle")
            no_page_scrolls_sideways(page)
        assert_accessible(page, f"{role}-{pages_of(role)[-1]}-400px")
