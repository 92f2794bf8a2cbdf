"""What a listed-URL fetch may connect to: http and https URLs of public hosts only.

Fetching a URL someone else chose is a server-side request forgery risk, so a host is checked
on every address DNS resolves it to, and again on the address the connection was actually made
to (DNS rebinding); loopback, private, link-local (cloud metadata) and the other non-public
kinds are refused unless an admin allowed that network.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpx

from facelens.errors import AddressRefusedError, FetchFailedError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})


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


def check_resolved(url: httpx.URL, allowed_networks: tuple[IPNetwork, ...]) -> None:
    """Raise ``AddressRefusedError`` unless every address ``url``'s host resolves to may be
    connected to (the connection may use any of them)."""
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = _resolve(url.host, port)
    except OSError as exc:
        raise FetchFailedError(
            f"{url}: host {url.host} could not be resolved ({exc}); check the URL"
        ) from None
    for address in {ipaddress.ip_address(info[4][0]) for info in infos}:
        _check_address(url, address, allowed_networks, "resolves to")


def _resolve(host: str, port: int) -> list[Any]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def check_peer(url: httpx.URL, stream: Any, allowed_networks: tuple[IPNetwork, ...]) -> str:
    """The address ``stream`` (an httpcore network stream) is connected to; raises
    ``AddressRefusedError`` when it may not be, or cannot be told."""
    # DNS may answer differently to the connection than to our check (DNS rebinding), so the
    # address actually connected to is checked by the same rule.
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if not peer:
        raise AddressRefusedError(
            f"{url}: the connected address could not be verified; fetch without a proxy or "
            "custom transport"
        )
    address = ipaddress.ip_address(peer[0])
    _check_address(url, address, allowed_networks, "connected to")
    return str(address)


def _check_address(
    url: httpx.URL, address: IPAddress, allowed_networks: tuple[IPNetwork, ...], verb: str
) -> None:
    refusal = address_refusal(address, allowed_networks)
    if refusal:
        raise AddressRefusedError(
            f"{url}: {url.host} {verb} {address}, a {refusal} address; only public hosts are "
            "fetched (an admin can allow a private network in the fetch settings)"
        )
