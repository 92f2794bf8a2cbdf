"""The browser tests' parts: the real server on the real engine, Debian's Chromium driven by
Playwright (its own browser download cannot work here), axe-core from the npm registry for
the accessibility check, and a screenshot of each page saved as a test artifact."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect, sync_playwright

from facelens.api.app import create_app
from facelens.config import Settings
from facelens.pipeline.analyse import FacePipeline
from tests.live_server import serving_app

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("FACELENS_CHROMIUM", "/usr/lib/chromium/chromium"))
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"


@contextmanager
def serving(settings: Settings, pipeline: FacePipeline) -> Iterator[str]:
    """The real server on the real engine, on a free local port; its address."""
    with serving_app(create_app(settings, pipeline)) as url:
        yield url


class ConsoleErrors(list[str]):
    """Errors the page logged (console.error, failed loads, uncaught exceptions)."""

    def watch(self, page: Page) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.append(f"{message.text} at {message.location.get('url', '')}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.append(f"uncaught: {error}"))


@contextmanager
def browser_page(width: int = 1280, height: int = 900) -> Iterator[Page]:
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: scripts/install-browser.sh installs it")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


@pytest.fixture
def page() -> Iterator[Page]:
    with browser_page() as opened:
        yield opened


@pytest.fixture
def console_errors(page: Page) -> ConsoleErrors:
    errors = ConsoleErrors()
    errors.watch(page)
    return errors


def sign_in(page: Page, key: str) -> None:
    page.fill("#key", key)
    page.click("#signin-form button")
    expect(page.locator("#nav")).to_be_visible()


def sign_out(page: Page) -> None:
    page.click("#sign-out")
    expect(page.locator("#signin-page")).to_be_visible()


def go(page: Page, page_id: str) -> None:
    """Open a page by its link in the navigation, as a user would."""
    page.click(f"#nav a[href='#{page_id}']")
    expect(page.locator(f"#{page_id}-page")).to_be_visible()


def no_page_scrolls_sideways(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert page.viewport_size is not None
    assert width <= page.viewport_size["width"], width


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def accessibility_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it stands (WCAG 2.1 AA)."""
    if not AXE.exists():
        pytest.fail(f"no axe-core at {AXE}: scripts/install-browser.sh installs it (npm ci)")
    if not page.evaluate("() => Boolean(window.axe)"):
        page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
          const result = await axe.run(document, {
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                            "best-practice"]}});
          return result.violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                          nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5)}));
        }"""
    )
    return found


def assert_accessible(page: Page, name: str) -> None:
    """No serious or critical axe-core violation; and a screenshot of the page as checked."""
    screenshot(page, name)
    violations = accessibility_violations(page)
    assert violations == [], f"{name}: {violations}"
