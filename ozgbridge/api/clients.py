"""Who the client is: the peer, or — behind trusted reverse proxies — whom they forwarded for.

``X-Forwarded-For`` is believed only from peers in ``OZGBRIDGE_TRUSTED_PROXIES``, and read from the
right: each trusted proxy appends the address it received the request from, so the first address
from the right that is not itself a trusted proxy is the client. Anything left of it was written
by the client and proves nothing. This is nginx's ``set_real_ip_from`` with ``real_ip_recursive
on`` (ngx_http_realip_module); taking the leftmost address instead would let every client choose
its own address — and with it escape the sign-in throttle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from aiohttp import web

from ozgbridge.api.problems import Problem
from ozgbridge.api.state import SETTINGS
from ozgbridge.errors import InvalidValue

FORWARDED_FOR = "X-Forwarded-For"
CLIENT_KEY = web.RequestKey("client_address", str)
# A proxy chain longer than this is not one anybody runs; refuse rather than walk it.
MAX_FORWARDED_HOPS = 32

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


class MalformedForwardedFor(InvalidValue):
    """A trusted proxy sent an ``X-Forwarded-For`` that is not a list of addresses."""


def _address(text: str) -> Address:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):  # some proxies bracket IPv6 addresses
        text = text[1:-1]
    try:
        found = ip_address(text)
    except ValueError:
        raise MalformedForwardedFor(f"{text[:60]!r} is not an IP address") from None
    if isinstance(found, IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


# Every request asks about its peer, and parsing an address costs more than the rest of this
# module's work: the few peers (proxies, portals) are parsed once each. Bounded, for the case of
# many peers.
@lru_cache(maxsize=1024)
def _peer(peer: str) -> tuple[Address | None, str]:
    """The peer's address (None when it is not one) and how it is written in logs."""
    try:
        found = _address(peer)
    except MalformedForwardedFor:
        return None, peer
    return found, str(found)


def _trusted(address: Address, proxies: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_address(peer: str | None, forwarded: Iterable[str], proxies: Sequence[Network]) -> str:
    """The client's address for a request from ``peer`` with these ``X-Forwarded-For`` values.

    Raises `MalformedForwardedFor` when a trusted peer forwarded something unreadable.
    """
    if peer is None:
        return "unknown"  # not an IP socket (a Unix socket): nothing to go by
    current, shown = _peer(peer)
    if current is None:
        return peer
    if not proxies or not _trusted(current, proxies):
        return shown
    hops = [part for value in forwarded for part in value.split(",") if part.strip()]
    if len(hops) > MAX_FORWARDED_HOPS:
        raise MalformedForwardedFor(f"more than {MAX_FORWARDED_HOPS} addresses")
    for hop in reversed(hops):
        current = _address(hop)
        if not _trusted(current, proxies):
            return str(current)
    # Every hop is a trusted proxy: the leftmost is as close to the client as we can know.
    return str(current)


def resolve(request: web.Request) -> str:
    """The client address of ``request`` (remembered); a 400 problem for an unreadable header."""
    known: str | None = request.get(CLIENT_KEY)
    if known is not None:
        return known
    proxies = request.app[SETTINGS].trusted_proxies
    try:
        found = client_address(request.remote, request.headers.getall(FORWARDED_FOR, ()), proxies)
    except MalformedForwardedFor as exc:
        raise Problem(400, f"{FORWARDED_FOR} from a trusted proxy is malformed: {exc}") from None
    request[CLIENT_KEY] = found
    return found


def for_log(request: web.Request) -> str | None:
    """The client address for a log line: resolved if possible, else the peer."""
    known: str | None = request.get(CLIENT_KEY)
    if known is not None:
        return known
    try:
        return resolve(request)
    except Problem:
        return request.remote
