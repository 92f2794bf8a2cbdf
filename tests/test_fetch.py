"""facelens.privacy.fetch against a real HTTP server on 127.0.0.1 that records every path
requested."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from facelens.errors import (
    AddressRefusedError,
    ContentEncodingRefusedError,
    FetchFailedError,
    FetchRefusedError,
    FetchTimeoutError,
    HttpStatusError,
    ImageTooLargeError,
    InvalidArgumentError,
    InvalidUrlError,
    ManifestError,
    RedirectRefusedError,
    ResponseTooLargeError,
    SchemeRefusedError,
)
from facelens.ingest_report import IngestFailure
from facelens.privacy.fetch import (
    FetchedImage,
    FetchOptions,
    address_refusal,
    addresses,
    fetch_all,
    fetch_image,
    read_manifest,
)

LOOPBACK = (ipaddress.IPv4Network("127.0.0.0/8"),)
ENDLESS_LIMIT = 64 * 1024 * 1024  # what /endless would send if nobody hung up


def options(**overrides: Any) -> FetchOptions:
    values: dict[str, Any] = {
        "max_bytes": 5_000_000,
        "timeout_s": 5.0,
        "allowed_networks": LOOPBACK,
        "user_agent": "facelens-test",
    }
    values.update(overrides)
    return FetchOptions(**values)


# --- the test server ----------------------------------------------------------------------


class Server(ThreadingHTTPServer):
    daemon_threads = True  # a stalled handler must not hold up teardown

    def __init__(self, photos: Path) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.photos = photos
        self.requested: list[str] = []
        self.release = threading.Event()  # ends stalled and dripping handlers
        self.endless_sent = 0
        self.endless_done = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hang up mid-response on purpose here (refusals, timeouts)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.server_address[1]}{path}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked responses need it
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requested.append(self.path)
        routes: dict[str, Callable[[], None]] = {
            "/redirect": self.redirect,
            "/page.html": self.page,
            "/gallery.html": self.page,
            "/big": self.big,
            "/endless": self.endless,
            "/stall": self.stall,
            "/drip": self.drip,
            "/gzip": self.gzip,
        }
        if self.path.startswith("/photos/"):
            self.photo(self.path.removeprefix("/photos/"))
        elif self.path in routes:
            routes[self.path]()
        else:
            self.send_error(404)

    def reply(self, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def photo(self, name: str) -> None:
        path = self.server.photos / name
        if not path.is_file():
            self.send_error(404)
            return
        self.reply(path.read_bytes(), "image/jpeg")

    def redirect(self) -> None:
        self.send_response(302)
        self.send_header("Location", "/photos/obama.jpg")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def page(self) -> None:
        html = (
            '<html><body><img src="/linked.jpg"><a href="/photos/biden.jpg">Biden</a>'
            '<link rel="preload" href="/preload.jpg"></body></html>'
        )
        self.reply(html.encode(), "text/html; charset=utf-8")

    def big(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        self.write_quietly(b"\0" * 1_000_000)

    def endless(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"\xff" * 16384
        try:
            while self.server.endless_sent < ENDLESS_LIMIT:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.server.endless_sent += len(chunk)
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client hung up, as it should
        finally:
            self.server.endless_done.set()

    def stall(self) -> None:
        self.server.release.wait(10)

    def drip(self) -> None:
        # Each byte arrives well within a per-read timeout; only a deadline stops this.
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        for _ in range(1000):
            if self.server.release.wait(0.05) or not self.write_quietly(b"x"):
                return

    def gzip(self) -> None:
        self.reply(b"\x1f\x8b" + b"\0" * 100, "image/jpeg", Content_Encoding="gzip")

    def write_quietly(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            return False
        return True


@pytest.fixture
def server(photos: Path) -> Iterator[Server]:
    httpd = Server(photos)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def closed_client() -> httpx.Client:
    """A tripwire: any attempt to send a request through it raises RuntimeError."""
    client = httpx.Client()
    client.close()
    return client


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- addresses ----------------------------------------------------------------------------


def test_loopback_is_refused_by_default(server: Server) -> None:
    for host in ("127.0.0.1", "localhost"):
        with pytest.raises(AddressRefusedError) as caught:
            fetch_image(server.url("/photos/obama.jpg", host), options(allowed_networks=()))
        assert caught.value.rule == "fetch-address"
        assert caught.value.code == "address_refused"
        assert "loopback" in str(caught.value)
    assert server.requested == []


def test_allowed_network_is_fetched(server: Server, photos: Path) -> None:
    url = server.url("/photos/obama.jpg")
    before = datetime.now(UTC)
    image = fetch_image(url, options())
    assert image.url == url
    assert image.data == (photos / "obama.jpg").read_bytes()
    assert image.sha256 == sha256_of(photos / "obama.jpg")
    assert image.content_type == "image/jpeg"
    assert image.status == 200
    assert image.peer_address == "127.0.0.1"
    assert before <= image.fetched_at <= datetime.now(UTC)
    assert server.requested == ["/photos/obama.jpg"]


@pytest.mark.parametrize(
    "host",
    [
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "2130706433",  # 127.0.0.1 written as one number
        "[::1]",
        "[fc00::1]",
        "[fe80::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:169.254.169.254]",
        "[::]",
    ],
)
def test_non_public_literal_refused_without_traffic(host: str, closed_client: httpx.Client) -> None:
    # Refused before the (closed) client is ever asked to send anything.
    with pytest.raises(AddressRefusedError) as caught:
        fetch_image(f"http://{host}/photo.jpg", options(allowed_networks=()), closed_client)
    assert caught.value.rule == "fetch-address"


@pytest.mark.parametrize(
    ("address", "refused_as"),
    [
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("fec0::1", "site-local"),
        ("240.0.0.1", "private"),
        ("::7f00:1", "reserved"),  # IPv4-compatible 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "reserved"),  # NAT64 form of 169.254.169.254
        ("2002:7f00:1::", "6to4 form of a loopback"),
    ],
)
def test_address_rule(address: str, refused_as: str | None) -> None:
    refusal = address_refusal(ipaddress.ip_address(address))
    if refused_as is None:
        assert refusal is None
    else:
        assert refusal is not None and refusal.startswith(refused_as)


def test_allowed_networks_override_only_their_range() -> None:
    allowed = (ipaddress.IPv4Network("10.1.0.0/16"),)
    assert address_refusal(ipaddress.ip_address("10.1.2.3"), allowed) is None
    assert address_refusal(ipaddress.ip_address("::ffff:10.1.2.3"), allowed) is None
    assert address_refusal(ipaddress.ip_address("10.2.0.1"), allowed) == "private"


def test_rebinding_refused_on_the_connected_address(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The attacker's DNS answers the check with a public address, the connection with loopback.
    public = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 80))]
    monkeypatch.setattr(addresses, "_resolve", lambda host, port: public)
    with pytest.raises(AddressRefusedError, match=re.escape("connected to 127.0.0.1")):
        fetch_image(server.url("/photos/obama.jpg"), options(allowed_networks=()))
    assert server.requested == []  # refused before the request was sent


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.org/photo.jpg", "gopher://example.org/1"]
)
def test_other_schemes_refused(url: str, closed_client: httpx.Client) -> None:
    with pytest.raises(SchemeRefusedError) as caught:
        fetch_image(url, options(), closed_client)
    assert caught.value.rule == "fetch-scheme"
    assert isinstance(caught.value, FetchRefusedError)


# --- what is (never) requested ------------------------------------------------------------


def test_redirect_refused_and_target_never_requested(server: Server) -> None:
    with pytest.raises(RedirectRefusedError) as caught:
        fetch_image(server.url("/redirect"), options())
    assert caught.value.rule == "fetch-redirect"
    assert caught.value.status == 302
    assert caught.value.location == "/photos/obama.jpg"
    assert "list the target URL" in str(caught.value)
    assert server.requested == ["/redirect"]


def test_html_at_an_image_url_is_only_bytes(server: Server) -> None:
    image = fetch_image(server.url("/page.html"), options())
    assert image.content_type is not None and image.content_type.startswith("text/html")
    assert b'<img src="/linked.jpg">' in image.data
    time.sleep(0.1)  # any request for a link would have arrived by now
    assert server.requested == ["/page.html"]


def test_manifest_page_url_never_requested(server: Server, tmp_path: Path) -> None:
    manifest_path = tmp_path / "manifest.csv"
    manifest_path.write_text(
        f"image_url,page_url\n{server.url('/photos/obama.jpg')},{server.url('/gallery.html')}\n"
    )
    manifest = read_manifest(manifest_path)
    results = list(fetch_all([entry.image_url for entry in manifest.entries], options()))
    assert [type(result) for result in results] == [FetchedImage]
    time.sleep(0.1)
    assert server.requested == ["/photos/obama.jpg"]


# --- limits -------------------------------------------------------------------------------


def test_declared_length_over_limit_refused(server: Server) -> None:
    with pytest.raises(ResponseTooLargeError) as caught:
        fetch_image(server.url("/big"), options(max_bytes=1000))
    assert caught.value.rule == "fetch-size"
    assert caught.value.size == 1_000_000
    assert isinstance(caught.value, ImageTooLargeError)
    assert caught.value.code == "image_too_large"


def test_chunked_body_over_limit_refused_early(server: Server) -> None:
    max_bytes = 100_000
    with pytest.raises(ResponseTooLargeError) as caught:
        fetch_image(server.url("/endless"), options(max_bytes=max_bytes))
    # At most one read (64 KiB) past the limit was taken in...
    assert max_bytes < caught.value.size <= max_bytes + 65536
    # ...and the server was cut off long before the end of its 64 MiB.
    assert server.endless_done.wait(5)
    assert server.endless_sent < ENDLESS_LIMIT


def test_compressed_body_refused(server: Server) -> None:
    with pytest.raises(ContentEncodingRefusedError) as caught:
        fetch_image(server.url("/gzip"), options())
    assert caught.value.rule == "fetch-encoding"


@pytest.mark.parametrize("path", ["/stall", "/drip"])
def test_slow_server_times_out_at_the_deadline(server: Server, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTimeoutError) as caught:
        fetch_image(server.url(path), options(timeout_s=0.5))
    elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 1.5
    assert caught.value.code == "fetch_timeout"


def test_http_error_status(server: Server) -> None:
    with pytest.raises(HttpStatusError) as caught:
        fetch_image(server.url("/missing.jpg"), options())
    assert caught.value.status == 404
    assert caught.value.code == "http_status"
    assert "404" in str(caught.value)


def test_fetch_all_keeps_going_and_keeps_order(server: Server, photos: Path) -> None:
    urls = [
        server.url("/photos/obama.jpg"),
        server.url("/missing.jpg"),
        "ftp://example.org/photo.jpg",
        "http://10.0.0.1/photo.jpg",
        server.url("/redirect"),
        server.url("/photos/biden.jpg"),
    ]
    results = list(fetch_all(urls, options(allowed_networks=LOOPBACK)))
    assert len(results) == len(urls)
    good = [results[0], results[5]]
    assert all(isinstance(result, FetchedImage) for result in good)
    assert [result.sha256 for result in good if isinstance(result, FetchedImage)] == [
        sha256_of(photos / "obama.jpg"),
        sha256_of(photos / "biden.jpg"),
    ]
    failures = results[1:5]
    assert all(isinstance(result, IngestFailure) for result in failures)
    assert [(f.location, f.error) for f in failures if isinstance(f, IngestFailure)] == [
        (urls[1], "http_status"),
        (urls[2], "scheme_refused"),
        (urls[3], "address_refused"),
        (urls[4], "redirect_refused"),
    ]
    assert server.requested == [
        "/photos/obama.jpg",
        "/missing.jpg",
        "/redirect",
        "/photos/biden.jpg",
    ]


def test_url_without_host_is_invalid(closed_client: httpx.Client) -> None:
    with pytest.raises(InvalidUrlError) as caught:
        fetch_image("http:///photo.jpg", options(), closed_client)
    assert caught.value.code == "invalid_url"


def test_unreachable_server_is_a_failure() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchFailedError) as caught:
        fetch_image(f"http://127.0.0.1:{port}/photo.jpg", options())
    assert caught.value.code == "fetch_failed"


def test_options_must_be_positive() -> None:
    with pytest.raises(InvalidArgumentError):
        options(max_bytes=0)
    with pytest.raises(InvalidArgumentError):
        options(timeout_s=0)


# --- manifest -----------------------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = "manifest.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_manifest_good_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "\ufeffimage_url,page_url,licence_ref,captured_at\n"
        "https://example.org/a.jpg,https://example.org/a.html,CC-BY-4.0,2024-05-31\n"
        'https://example.org/b.jpg,"https://example.org/b.html?x=1,2",,2024-05-31T14:00:00Z\n'
        "http://example.org/c.jpg,http://example.org/,,\n",
    )
    manifest = read_manifest(path)
    assert manifest.problems == []
    a, b, c = manifest.entries
    assert (a.image_url, a.page_url, a.licence_ref, a.line) == (
        "https://example.org/a.jpg",
        "https://example.org/a.html",
        "CC-BY-4.0",
        2,
    )
    assert a.captured_at == datetime(2024, 5, 31, tzinfo=UTC)
    assert b.page_url == "https://example.org/b.html?x=1,2"
    assert b.licence_ref is None
    assert b.captured_at == datetime(2024, 5, 31, 14, tzinfo=UTC)
    assert c.captured_at is None
    assert a.provenance().origin_url == a.image_url


def test_manifest_missing_required_column(tmp_path: Path) -> None:
    path = write(tmp_path, "image_url,licence_ref\nhttps://example.org/a.jpg,x\n")
    with pytest.raises(ManifestError) as caught:
        read_manifest(path)
    assert isinstance(caught.value, InvalidArgumentError)
    assert caught.value.code == "invalid_manifest"
    assert str(path) in str(caught.value) and "page_url" in str(caught.value)


@pytest.mark.parametrize(
    "make", [lambda p: p / "absent.csv", lambda p: write_bytes(p, b"\x89PNG\r\n\x1a\n\xff\xfe")]
)
def test_manifest_unreadable_or_not_csv(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    path = make(tmp_path)
    with pytest.raises(ManifestError, match=re.escape(str(path))):
        read_manifest(path)


def write_bytes(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "photo.csv"
    path.write_bytes(data)
    return path


def test_manifest_bad_rows_are_problems(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "image_url,page_url,captured_at\n"
        "https://example.org/good1.jpg,https://example.org/,\n"
        "photos/a.jpg,https://example.org/,\n"
        "ftp://example.org/b.jpg,https://example.org/,\n"
        "https://example.org/c.jpg,,\n"
        "https://example.org/d.jpg,https://example.org/,yesterday\n"
        "https://example.org/e.jpg,https://example.org/,,extra\n"
        "\n"
        "https://example.org/good2.jpg,https://example.org/,2024-01-02\n",
    )
    manifest = read_manifest(path)
    assert [entry.image_url for entry in manifest.entries] == [
        "https://example.org/good1.jpg",
        "https://example.org/good2.jpg",
    ]
    assert [problem.location for problem in manifest.problems] == [
        f"{path}:{line}" for line in (3, 4, 5, 6, 7)
    ]
    assert {problem.error for problem in manifest.problems} == {"invalid_manifest_row"}
    messages = [problem.message for problem in manifest.problems]
    assert "image_url 'photos/a.jpg'" in messages[0]
    assert "not an http or https URL" in messages[1]
    assert "page_url is empty" in messages[2]
    assert "captured_at 'yesterday'" in messages[3]
    assert "fields" in messages[4]


def test_manifest_duplicate_image_url(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "image_url,page_url\n"
        "https://example.org/a.jpg,https://example.org/1\n"
        "https://example.org/b.jpg,https://example.org/2\n"
        "https://example.org/a.jpg,https://example.org/3\n",
    )
    manifest = read_manifest(path)
    assert [entry.line for entry in manifest.entries] == [2, 3]
    assert len(manifest.problems) == 1
    assert manifest.problems[0].location == f"{path}:4"
    assert "line 2" in manifest.problems[0].message
