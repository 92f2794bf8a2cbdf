"""Issue 6, item 2: no untargeted collection. `facelens ingest-manifest` fetches exactly the
image URLs an operator lists, records each fetch in provenance, never fetches a page or follows
a link or redirect, and refuses private addresses unless an admin allowed them. Real HTTP (a
local server), real photos, the real CLI and store."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from facelens.cli.main import EXIT_INGEST_FAILURES
from tests.conftest import PRESS_ARCHIVE, Cli
from tests.test_fetch import Server

runner = CliRunner()
WHY = ("--purpose", "test search", "--case-ref", "T-2")


@pytest.fixture
def server(photos: Path) -> Iterator[Server]:
    running = Server(photos)
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.release.set()
    running.shutdown()
    running.server_close()


def test_given_a_manifest_then_only_its_image_urls_are_fetched_with_provenance(
    server: Server, tmp_path: Path, photos: Path
) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "image_url,page_url,licence_ref,captured_at\n"
        f"{server.url('/photos/obama.jpg')},{server.url('/gallery.html')},CC-BY-4.0,2024-05-01\n"
        f"{server.url('/photos/biden.jpg')},{server.url('/page.html')},,\n"
        f"{server.url('/redirect')},{server.url('/page.html')},,\n"
        f"ftp://example.org/a.jpg,{server.url('/page.html')},,\n"
        f"relative.jpg,{server.url('/page.html')},,\n"
    )

    cli = Cli(tmp_path / "data")
    cli("collection", "create", "web", *PRESS_ARCHIVE)

    # By default the server's loopback address is refused: nothing is fetched.
    refused = cli.json("ingest-manifest", manifest, "-c", "web", code=EXIT_INGEST_FAILURES)
    assert refused["images_ingested"] == 0
    assert refused["refusals"] == {"fetch-address": 3}
    assert server.requested == []

    allowed = {"FACELENS_FETCH_ALLOWED_NETWORKS": '["127.0.0.0/8"]'}
    report = cli.json(
        "ingest-manifest", manifest, "-c", "web", code=EXIT_INGEST_FAILURES, env=allowed
    )
    assert (report["images_ingested"], report["faces_indexed"]) == (2, 2)
    assert report["refusals"] == {"fetch-redirect": 1}
    failed = sorted(f["error"] for f in report["failures"])
    # ftp:// and a relative URL are bad rows (with their line), refused before any fetch.
    assert failed == ["invalid_manifest_row", "invalid_manifest_row", "redirect_refused"]
    # Exactly the listed image URLs: no page, no link, no redirect target.
    assert sorted(server.requested) == ["/photos/biden.jpg", "/photos/obama.jpg", "/redirect"]

    found = cli.json("search", photos / "obama2.jpg", *WHY, env=allowed)
    top = found["faces"][0]["matches"][0]
    assert top["is_match"] and top["provenance"]["origin_url"] == server.url("/photos/obama.jpg")
    assert top["provenance"]["page_url"] == server.url("/gallery.html")
    assert top["provenance"]["licence_ref"] == "CC-BY-4.0"
    assert top["provenance"]["fetched_at"] is not None
    assert Path(top["image_location"]).read_bytes() == (photos / "obama.jpg").read_bytes()

    # A rerun fetches nothing already ingested.
    server.requested.clear()
    again = cli.json(
        "ingest-manifest", manifest, "-c", "web", code=EXIT_INGEST_FAILURES, env=allowed
    )
    assert again["duplicates_skipped"] == 2 and server.requested == ["/redirect"]


def test_given_a_manifest_without_its_columns_then_a_clear_error(tmp_path: Path) -> None:
    manifest = tmp_path / "urls.csv"
    manifest.write_text("url\nhttps://example.org/a.jpg\n")
    cli = Cli(tmp_path / "data")
    cli("collection", "create", "web", *PRESS_ARCHIVE)
    refused = cli("ingest-manifest", manifest, "-c", "web", code=2)
    assert "image_url" in refused


def test_given_a_command_that_fetches_nothing_then_the_http_client_is_not_even_imported() -> None:
    """httpx (and idna under it) cost every start-up 0.16 s, an eighth of the imports of
    ``facelens search``, which has 3 s in all at 10 million faces: only fetching loads it."""
    script = (
        "import sys; import facelens.cli.main; from facelens.engine import Engine;"
        "print('httpx' in sys.modules)"
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert ran.stdout.split() == ["False"]
