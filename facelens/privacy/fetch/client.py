"""Fetch exactly the image URLs an operator lists, and nothing else.

The EU AI Act forbids building face databases by untargeted scraping of the internet. facelens
therefore never crawls: an operator names each image in a manifest (the image URL and the page
it appeared on, for provenance) and facelens fetches exactly those image URLs. It never fetches
the page URL, never parses HTML, never follows links or redirects and never discovers images by
itself; a redirect is refused and the operator is asked to list its target instead.

Fetching a URL someone else chose is also a server-side request forgery risk, so every fetch is
limited to public addresses (unless an admin allows a private network), checked again on the
connection actually made (DNS rebinding), capped in size and bounded by a wall-clock deadline.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import ipaddress
import socket
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from facelens.errors import (
    AddressRefusedError,
    ContentEncodingRefusedError,
    FacelensError,
    FetchFailedError,
    FetchTimeoutError,
    HttpStatusError,
    InvalidArgumentError,
    InvalidUrlError,
    ManifestError,
    ManifestRowError,
    RedirectRefusedError,
    ResponseTooLargeError,
    SchemeRefusedError,
)
from facelens.pipeline.batch import failure
from facelens.types import IngestFailure, Provenance

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})
REQUIRED_COLUMNS = ("image_url", "page_url")
OPTIONAL_COLUMNS = ("licence_ref", "captured_at")


# --- errors -------------------------------------------------------------------------------


# --- manifest -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    image_url: str
    page_url: str
    line: int
    licence_ref: str | None = None
    captured_at: datetime | None = None

    def provenance(self) -> Provenance:
        return Provenance(
            origin_url=self.image_url,
            page_url=self.page_url,
            captured_at=self.captured_at,
            licence_ref=self.licence_ref,
        )


@dataclass(slots=True)
class Manifest:
    path: Path
    entries: list[ManifestEntry] = field(default_factory=list)
    problems: list[IngestFailure] = field(default_factory=list)


def read_manifest(path: Path | str) -> Manifest:
    """Read a CSV manifest with a header row: ``image_url``, ``page_url`` and optionally
    ``licence_ref`` and ``captured_at`` (ISO 8601; a value without a zone is taken as UTC).

    A bad row becomes a problem located at ``path:line`` and the other rows still load; a file
    that cannot be used at all raises ``ManifestError``.
    """
    path = Path(path)
    manifest = Manifest(path=path)
    fix = "write a UTF-8 CSV file whose header row names image_url and page_url"
    try:
        # utf-8-sig: spreadsheet programs often start CSV files with a byte order mark.
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.reader(file)
            header = next(reader, None)
            if header is None:
                raise ManifestError(f"manifest {path} is empty; {fix}")
            columns = [name.strip().lower() for name in header]
            missing = [name for name in REQUIRED_COLUMNS if name not in columns]
            if missing:
                raise ManifestError(
                    f"manifest {path} has no {' or '.join(missing)} column "
                    f"(header: {', '.join(header) or 'empty'}); {fix}"
                )
            first_line: dict[str, int] = {}
            for values in reader:
                line = reader.line_num  # physical line, so quoted newlines don't shift it
                if not any(value.strip() for value in values):
                    continue
                try:
                    entry = _parse_row(columns, values, line, first_line)
                except ManifestRowError as exc:
                    manifest.problems.append(failure(f"{path}:{line}", exc))
                    continue
                first_line[entry.image_url] = line
                manifest.entries.append(entry)
    except FileNotFoundError:
        raise ManifestError(f"manifest {path} does not exist; check the path") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ManifestError(f"manifest {path} is not a CSV text file ({exc}); {fix}") from None
    except OSError as exc:
        raise ManifestError(
            f"manifest {path} cannot be read ({exc.strerror or exc}); check the path and "
            "its permissions"
        ) from None
    return manifest


def _parse_row(
    columns: list[str], values: list[str], line: int, first_line: dict[str, int]
) -> ManifestEntry:
    if len(values) > len(columns):
        raise ManifestRowError(
            f"line {line} has {len(values)} fields but the header has {len(columns)}; "
            "put values that contain commas in double quotes"
        )
    row = {name: value.strip() for name, value in zip(columns, values, strict=False)}
    image_url = _absolute_url(row.get("image_url", ""), "image_url", line)
    page_url = _absolute_url(row.get("page_url", ""), "page_url", line)
    if image_url in first_line:
        raise ManifestRowError(
            f"line {line} repeats image_url {image_url} already listed on line "
            f"{first_line[image_url]}; it is fetched once, delete the repeated row"
        )
    captured_text = row.get("captured_at", "")
    captured_at = None
    if captured_text:
        try:
            captured_at = datetime.fromisoformat(captured_text)
        except ValueError:
            raise ManifestRowError(
                f"line {line}: captured_at {captured_text!r} is not an ISO 8601 date or "
                "datetime; write e.g. 2024-05-31 or 2024-05-31T14:00:00Z, or leave it empty"
            ) from None
        if captured_at.tzinfo is None:
            captured_at = captured_at.replace(tzinfo=UTC)
    return ManifestEntry(
        image_url=image_url,
        page_url=page_url,
        line=line,
        licence_ref=row.get("licence_ref") or None,
        captured_at=captured_at,
    )


def _absolute_url(value: str, column: str, line: int) -> str:
    problem = None
    if not value:
        problem = "is empty"
    else:
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as exc:
            problem = f"is not a valid URL ({exc})"
        else:
            if url.scheme not in ALLOWED_SCHEMES:
                problem = "is not an http or https URL"
            elif not url.host:
                problem = "has no host"
    if problem:
        shown = f" {value!r}" if value else ""
        raise ManifestRowError(
            f"line {line}: {column}{shown} {problem}; write the full address, "
            "e.g. https://example.org/photo.jpg"
        )
    return value


# --- fetching -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FetchOptions:
    max_bytes: int
    #: Whole request, connect to last byte: a deadline, not a per-read timeout.
    timeout_s: float
    #: Private networks an admin has explicitly allowed (e.g. an intranet image server).
    allowed_networks: tuple[IPNetwork, ...] = ()
    user_agent: str = "facelens"

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.timeout_s <= 0:
            raise InvalidArgumentError(
                f"fetch limits must be positive (max_bytes={self.max_bytes}, "
                f"timeout_s={self.timeout_s}); check the fetch settings"
            )


@dataclass(frozen=True, slots=True)
class FetchedImage:
    url: str
    data: bytes = field(repr=False)
    sha256: str
    content_type: str | None
    fetched_at: datetime
    peer_address: str
    status: int


def address_refusal(address: IPAddress, allowed_networks: Iterable[IPNetwork] = ()) -> str | None:
    """Why facelens may not connect to ``address`` ("loopback", ...), or None if it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # the IPv4 host the OS would actually talk to
    if any(address in network for network in allowed_networks):
        return None
    for kind, refused in _REFUSED_KINDS:
        if refused(address):
            return kind
    if not address.is_global:
        return "not globally routable"
    # Forms that carry an IPv4 address a relay or NAT64 gateway would deliver to.
    if isinstance(address, ipaddress.IPv6Address) and address.sixtofour is not None:
        inner = address_refusal(address.sixtofour, allowed_networks)
        if inner:
            return f"6to4 form of a {inner} address"
    return None


_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT, RFC 6598
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
_REFUSED_KINDS = (
    ("loopback", lambda a: a.is_loopback),
    ("unspecified", lambda a: a.is_unspecified),
    ("link-local (cloud metadata services live here)", lambda a: a.is_link_local),
    ("multicast", lambda a: a.is_multicast),
    ("shared (carrier-grade NAT)", lambda a: a in _SHARED),
    ("unique-local", lambda a: a in _UNIQUE_LOCAL),
    ("site-local", lambda a: isinstance(a, ipaddress.IPv6Address) and a.is_site_local),
    ("private", lambda a: a.is_private),
    # Includes the IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96) forms.
    ("reserved", lambda a: a.is_reserved),
)


def fetch_image(
    url: str, options: FetchOptions, client: httpx.Client | None = None
) -> FetchedImage:
    """Fetch one listed image URL under the collection rules (see the module docstring).

    ``client`` lets a batch share connections; it must not use a proxy (the peer address
    check would see the proxy). Raises a ``FetchError`` subclass on every failure.
    """
    parsed = _parse_fetch_url(url)
    _check_resolved(parsed, options)
    if client is None:
        with new_client(options) as own:
            return _fetch(parsed, url, options, own)
    return _fetch(parsed, url, options, client)


def fetch_all(urls: Iterable[str], options: FetchOptions) -> Iterator[FetchedImage | IngestFailure]:
    """Fetch each URL in order, one after the other; a failure never stops the rest."""
    with new_client(options) as client:
        for url in urls:
            try:
                yield fetch_image(url, options, client)
            except Exception as exc:  # one bad URL never aborts the batch
                yield failure(url, exc)


def new_client(options: FetchOptions) -> httpx.Client:
    # trust_env=False: no proxy from the environment (the peer check must see the real host)
    # and no credentials from ~/.netrc sent to hosts the operator listed.
    return httpx.Client(
        trust_env=False,
        follow_redirects=False,
        headers={"User-Agent": options.user_agent},
    )


def _parse_fetch_url(url: str) -> httpx.URL:
    # One parser for checking and for requesting, so the two cannot disagree about the host.
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidUrlError(f"{url!r} is not a valid URL ({exc}); correct it") from None
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise SchemeRefusedError(
            f"{url}: only http and https URLs are fetched, not {parsed.scheme or 'a relative'} "
            "URLs; list the image's http(s) address"
        )
    if not parsed.host:
        raise InvalidUrlError(f"{url} has no host; write the full address")
    return parsed


def _check_resolved(url: httpx.URL, options: FetchOptions) -> None:
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = _resolve(url.host, port)
    except OSError as exc:
        raise FetchFailedError(
            f"{url}: host {url.host} could not be resolved ({exc}); check the URL"
        ) from None
    # Every address must pass, since the connection may use any of them.
    for address in {ipaddress.ip_address(info[4][0]) for info in infos}:
        _check_address(url, address, options, "resolves to")


def _resolve(host: str, port: int) -> list[Any]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def _check_address(url: httpx.URL, address: IPAddress, options: FetchOptions, verb: str) -> None:
    refusal = address_refusal(address, options.allowed_networks)
    if refusal:
        raise AddressRefusedError(
            f"{url}: {url.host} {verb} {address}, a {refusal} address; only public hosts are "
            "fetched (an admin can allow a private network in the fetch settings)"
        )


def _check_peer(url: httpx.URL, stream: Any, options: FetchOptions) -> str:
    # DNS may answer differently to the connection than to our check (DNS rebinding), so the
    # address actually connected to is checked by the same rule.
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if not peer:
        raise AddressRefusedError(
            f"{url}: the connected address could not be verified; fetch without a proxy or "
            "custom transport"
        )
    address = ipaddress.ip_address(peer[0])
    _check_address(url, address, options, "connected to")
    return str(address)


class _Deadline:
    """Shuts the connection's socket when the time is up: httpx's timeouts apply to each
    read, so a server sending a byte at a time could otherwise stretch a fetch forever."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._socket = sock
            if self.expired:
                self._shut()

    def cancel(self) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._shut()

    def _shut(self) -> None:
        if self._socket is not None:
            # shutdown, not close: it wakes a read blocked in the other thread.
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)


def _fetch(url: httpx.URL, given: str, options: FetchOptions, client: httpx.Client) -> FetchedImage:
    deadline = _Deadline(options.timeout_s)

    def trace(event: str, info: dict[str, Any]) -> None:
        # Check the peer as soon as the TCP connection exists, before any request is sent.
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info["return_value"]
            deadline.watch(stream.get_extra_info("socket"))
            if event == "connection.connect_tcp.complete":
                try:
                    _check_peer(url, stream, options)
                except AddressRefusedError:
                    stream.close()  # httpcore never gets it back to close
                    raise

    try:
        with client.stream(
            "GET",
            url,
            # identity: a compressed body could expand far past max_bytes in one read.
            headers={"Accept-Encoding": "identity", "User-Agent": options.user_agent},
            follow_redirects=False,
            timeout=httpx.Timeout(options.timeout_s),
            extensions={"trace": trace},
        ) as response:
            # Again on the response: a pooled connection was checked when it was opened,
            # and this also covers transports that do not report connecting.
            peer = _check_peer(url, response.extensions.get("network_stream"), options)
            _check_response(given, response, options)
            data = _read_capped(given, response, options, deadline)
    except FacelensError:
        if deadline.expired:
            raise _timeout(given, options) from None
        raise
    except httpx.TimeoutException:
        raise _timeout(given, options) from None
    except (httpx.HTTPError, OSError) as exc:
        if deadline.expired:
            raise _timeout(given, options) from None
        raise FetchFailedError(
            f"{given}: the request failed ({type(exc).__name__}: {exc}); check that the "
            "server is up and try again"
        ) from None
    finally:
        deadline.cancel()
    if deadline.expired:  # the shutdown can look like a complete, close-delimited body
        raise _timeout(given, options)
    return FetchedImage(
        url=given,
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        content_type=response.headers.get("content-type"),
        fetched_at=datetime.now(UTC),
        peer_address=peer,
        status=response.status_code,
    )


def _check_response(url: str, response: httpx.Response, options: FetchOptions) -> None:
    status = response.status_code
    if 300 <= status < 400:
        location = response.headers.get("location")
        target = f" to {response.url.join(location)}" if location else ""
        raise RedirectRefusedError(
            f"{url} redirects{target} (HTTP {status}); redirects are never followed, list "
            "the target URL in the manifest instead",
            status=status,
            location=location,
        )
    if not 200 <= status < 300:
        raise HttpStatusError(
            f"{url}: the server answered HTTP {status} {response.reason_phrase}; check the URL "
            "(or try again later for a 5xx)",
            status=status,
        )
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise ContentEncodingRefusedError(
            f"{url}: the server sent a {encoding}-encoded body although facelens asked for "
            "none; ask its operator to serve the image uncompressed"
        )
    declared = response.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > options.max_bytes:
        raise _too_large(url, options, int(declared), "declares")


def _read_capped(
    url: str, response: httpx.Response, options: FetchOptions, deadline: _Deadline
) -> bytes:
    chunks: list[bytes] = []
    received = 0
    for chunk in response.iter_raw():
        received += len(chunk)
        # Stop as soon as the cap is passed; a body without a length could be endless.
        if received > options.max_bytes:
            raise _too_large(url, options, received, "sent at least")
        if deadline.expired:
            raise _timeout(url, options)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(url: str, options: FetchOptions, size: int, what: str) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"{url}: the response {what} {size} bytes, over the {options.max_bytes}-byte limit; "
        "raise max_image_bytes if this image is wanted",
        max_bytes=options.max_bytes,
        size=size,
    )


def _timeout(url: str, options: FetchOptions) -> FetchTimeoutError:
    return FetchTimeoutError(
        f"{url}: no complete response within {options.timeout_s:g} s; try again later or "
        "raise the fetch timeout"
    )
