"""The HTTP side of listed-URL fetching: one GET of exactly the URL given, never a redirect.

Every fetch is checked against ``facelens.privacy.fetch.addresses`` before it is sent and on
the connection actually made, asks for an uncompressed body (a compressed one is refused),
is capped in size (declared and received) and bounded by a wall-clock deadline.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    RedirectRefusedError,
    ResponseTooLargeError,
    SchemeRefusedError,
)
from facelens.ingest_report import IngestFailure
from facelens.pipeline.batch import failure
from facelens.privacy.fetch.addresses import ALLOWED_SCHEMES, IPNetwork, check_peer, check_resolved


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


def fetch_image(
    url: str, options: FetchOptions, client: httpx.Client | None = None
) -> FetchedImage:
    """Fetch one listed image URL under the collection rules (``facelens.privacy.fetch``).

    ``client`` lets a batch share connections; it must not use a proxy (the peer address
    check would see the proxy). Raises a ``FetchError`` subclass on every failure.
    """
    parsed = _parse_fetch_url(url)
    check_resolved(parsed, options.allowed_networks)
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
                    check_peer(url, stream, options.allowed_networks)
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
            peer = check_peer(
                url, response.extensions.get("network_stream"), options.allowed_networks
            )
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
