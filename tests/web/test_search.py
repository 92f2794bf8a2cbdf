"""The web interface end to end: Playwright drives headless Chromium (Debian's package,
installed by scripts/test.sh; Playwright's own browser download cannot work here) against the
real server on the real engine, with real photos."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from PIL import Image
from playwright.sync_api import Page, expect, sync_playwright

from facelens.api.app import create_app
from facelens.config import Settings
from facelens.pipeline.analyse import FacePipeline
from facelens.security.accounts import Role, create_account
from facelens.security.crypto import TemplateCipher, generate_key
from facelens.store import create_store
from tests.conftest import TEST_POLICY
from tests.test_not_indexed import hopper_and_small_obama

CHROMIUM = Path(os.environ.get("FACELENS_CHROMIUM", "/usr/lib/chromium/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, pipeline: FacePipeline
) -> Iterator[tuple[str, dict[Role, str]]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("web-data"))
    store = create_store(settings, TemplateCipher(generate_key()))  # accounts only: no template
    keys = {role: create_account(store, f"{role}-web", role)[1] for role in Role}
    for name in ("press", "archive"):
        store.create_collection(name, TEST_POLICY)
    store.close()
    with serving(settings, pipeline) as url:
        yield url, keys


@contextmanager
def serving(settings: Settings, pipeline: FacePipeline) -> Iterator[str]:
    """The real server on a free local port, in a thread; its address."""
    port = free_port()
    running = uvicorn.Server(
        uvicorn.Config(create_app(settings, pipeline), port=port, log_level="warning")
    )
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def page() -> Iterator[Page]:
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: scripts/test.sh installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser.new_page(viewport={"width": 1280, "height": 900})
        browser.close()


def sign_in(page: Page, key: str) -> None:
    page.fill("#key", key)
    page.click("#signin-form button")
    expect(page.locator("#nav")).to_be_visible()


def test_given_a_browser_then_upload_search_and_the_person_is_first(
    server: tuple[str, dict[Role, str]], page: Page, photos: Path, tmp_path: Path
) -> None:
    url, keys = server
    page.goto(url)
    expect(page.locator("#signin-page")).to_be_visible()
    page.fill("#key", "fl_1_wrong")
    page.click("#signin-form button")
    expect(page.locator("#message")).to_contain_text("not valid")

    sign_in(page, keys[Role.ENROLLER])
    expect(page.locator("#upload-page")).to_be_visible()
    expect(page.locator("#nav a[href='#search']")).to_be_hidden()  # enrollers do not search
    page.fill("#collection", "press")
    page.set_input_files("#files", [str(photos / "obama.jpg"), str(photos / "biden.jpg")])
    page.click("#upload-form button")
    expect(page.locator("#upload-report")).to_contain_text("2 images ingested, 2 faces indexed")
    page.click("#sign-out")

    sign_in(page, keys[Role.ANALYST])
    expect(page.locator("#search-page")).to_be_visible()
    page.set_input_files("#probe", str(photos / "obama2.jpg"))
    page.fill("#purpose", "identity check")
    page.fill("#case-ref", "WEB-1")
    page.click("#search-button")
    first = page.locator(".grid .match").first
    expect(first).to_contain_text("obama.jpg")
    expect(first).to_contain_text("MATCH")
    expect(page.locator(".grid .match").nth(1)).to_contain_text("below threshold")
    expect(page.locator("#boxes .box")).to_have_count(1)
    expect(page.locator("#results h3").first).to_contain_text("Face 1 (317 px): ")
    # The rule in words: a gallery of two faces is decided on similarity, not calibrated.
    expect(page.locator("#results .decision").first).to_contain_text(
        "MATCH: similarity at or above 0.93"
    )
    expect(first.locator("img")).to_have_js_property("complete", True)
    assert first.locator("img").evaluate("img => img.naturalWidth") > 0, "thumbnail shown"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "search-results.png"), full_page=True)

    not_a_photo = tmp_path / "notes.jpg"
    not_a_photo.write_text("not a photo")
    page.set_input_files("#probe", str(not_a_photo))
    page.click("#search-button")
    expect(page.locator("#message")).to_contain_text("not an image format facelens can read")

    sideways = tmp_path / "obama2-sideways.png"  # a quarter clockwise, no EXIF orientation
    Image.open(photos / "obama2.jpg").transpose(Image.Transpose.ROTATE_270).save(sideways)
    page.set_input_files("#probe", str(sideways))
    page.click("#search-button")
    expect(page.locator("#probe-turn")).to_contain_text("turned 270° clockwise")
    expect(page.locator(".grid .match").first).to_contain_text("obama.jpg")

    page.click("#sign-out")
    sign_in(page, keys[Role.AUDITOR])
    expect(page.locator("#history-page")).to_be_visible()
    expect(page.locator("#history tbody tr").first).to_contain_text("WEB-1")


def test_given_a_browser_then_collections_and_persons_pages_show_the_faces(
    server: tuple[str, dict[Role, str]], page: Page, photos: Path
) -> None:
    url, keys = server
    page.goto(url)
    sign_in(page, keys[Role.ENROLLER])
    page.fill("#collection", "archive")
    page.set_input_files("#files", [str(photos / "obama3.jpg")])
    page.click("#upload-form button")
    expect(page.locator("#upload-report")).to_contain_text("1 images ingested")
    page.click("#nav a[href='#collections']")
    page.click("#collection-list a:text('archive')")
    expect(page.locator("#collection-images .match")).to_have_count(1)
    expect(page.locator("#collection-images .match")).to_contain_text("obama3.jpg: 1 face(s)")
    page.click("#nav a[href='#persons']")
    expect(page.locator("#persons-page")).to_be_visible()


def test_given_an_admin_in_the_browser_then_a_collection_is_made_with_its_legal_basis(
    server: tuple[str, dict[Role, str]], page: Page
) -> None:
    url, keys = server
    page.goto(url)
    sign_in(page, keys[Role.ADMIN])
    page.click("#nav a[href='#collections']")
    form = page.locator("#collection-form")
    expect(form).to_be_visible()
    form.locator("[name=name]").fill("fraud-2026")
    form.locator("[name=basis]").select_option("contract")
    form.locator("[name=jurisdictions]").fill("gb, ie")
    form.locator("[name=purpose]").fill("fraud prevention")
    form.locator("[name=retention_days]").fill("180")
    form.locator("button").click()
    expect(page.locator("#collection-list li", has_text="fraud-2026")).to_contain_text(
        "contract, GB, IE: fraud prevention; kept 180 days"
    )
    # Without a text, the basis "other" is refused with the reason shown.
    form.locator("[name=name]").fill("misc")
    form.locator("[name=basis]").select_option("other")
    form.locator("[name=jurisdictions]").fill("GB")
    form.locator("[name=purpose]").fill("anything")
    form.locator("[name=retention_days]").fill("30")
    form.locator("button").click()
    expect(page.locator("#message")).to_contain_text("needs a text")


def test_given_a_face_under_the_size_gate_then_the_upload_summary_says_it_was_not_indexed(
    server: tuple[str, dict[Role, str]],
    page: Page,
    photos: Path,
    grace_hopper: Path,
    tmp_path: Path,
) -> None:
    # Grace Hopper (indexed) with Obama downscaled twelvefold (boxed at 22 px: too small).
    hopper_and_small_obama(photos, grace_hopper, tmp_path)
    url, keys = server
    page.goto(url)
    sign_in(page, keys[Role.ENROLLER])
    page.fill("#collection", "press")
    page.set_input_files("#files", [str(tmp_path / "hopper-and-small-obama.jpg")])
    page.click("#upload-form button")
    report = page.locator("#upload-report")
    expect(report).to_contain_text("1 images ingested, 1 faces indexed (1 at >=128px)")
    expect(report).to_contain_text("not indexed:")
    expect(report).to_contain_text("too small: 1 at <24px")


def test_given_the_hidden_attribute_then_the_stylesheet_does_not_show_the_element(
    server: tuple[str, dict[Role, str]], page: Page
) -> None:
    """Issue 17: `display` given to nav, form and #probe-view overrode `hidden`, so the
    navigation showed before sign-in, the collection form to analysts and a broken image
    before any search."""
    url, keys = server
    page.goto(url)
    expect(page.locator("#signin-page")).to_be_visible()
    expect(page.locator("#nav")).to_be_hidden()
    sign_in(page, keys[Role.ANALYST])
    expect(page.locator("#probe-view")).to_be_hidden()  # no search yet: no empty image
    page.click("#nav a[href='#collections']")
    expect(page.locator("#collections-page")).to_be_visible()
    expect(page.locator("#collection-form")).to_be_hidden()  # analysts make no collections
