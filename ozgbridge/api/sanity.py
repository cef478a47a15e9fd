"""Refuse requests whose framing headers cannot be read, before any handler looks at them.

A malformed header is the client's mistake and gets a 400 problem naming the header — never a
500 from deep inside a handler that trusted it. Checked here:

- ``Host`` (RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any
  HTTP/1.1 request message that lacks a Host header field and to any request message that contains
  more than one Host header field line or a Host header field with an invalid field value"):
  ``uri-host [ ":" port ]`` of RFC 3986;
- every header ozgbridge interprets (``Host``, ``Cookie``, ``Origin``, ``X-Forwarded-For``) must be
  valid UTF-8 without control characters (RFC 9110 §5.5 lets a recipient reject CR, LF and NUL;
  the HTTP parser already refuses most control characters in any field);
- ``Origin`` must be ``null`` or ``scheme://host[:port]`` (RFC 6454 §7);
- ``X-Forwarded-For`` from a trusted proxy must be a list of addresses (see clients.py).

Cookies themselves are not judged here: a cookie that is not a valid session is simply no session.
"""

from __future__ import annotations

import re
from ipaddress import IPv6Address
from urllib.parse import urlsplit

from aiohttp import web

from ozgbridge.api import clients
from ozgbridge.api.problems import Handler, Problem

_REG_NAME = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+")
_PORT = re.compile(r"[0-9]{0,5}")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_INTERPRETED = ("Host", "Cookie", "Origin", clients.FORWARDED_FOR)
_ORIGIN_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


def host_ok(value: str) -> bool:
    """Whether ``value`` is ``uri-host [":" port]`` (RFC 3986 §3.2.2, RFC 9110 §7.2).

    An empty host is refused too: RFC 9110 allows it only for a target URI without authority,
    which no request to this server has, and the request URL could not be built from it.
    """
    if value.startswith("["):
        literal, bracket, port = value[1:].partition("]")
        if not bracket:
            return False
        try:
            IPv6Address(literal)
        except ValueError:
            return False
        return not port or (port.startswith(":") and _port_ok(port[1:]))
    host, colon, port = value.partition(":")
    if colon and not _port_ok(port):
        return False
    return _REG_NAME.fullmatch(host) is not None


def _port_ok(port: str) -> bool:
    return _PORT.fullmatch(port) is not None and (port == "" or int(port) <= 65535)


def origin_ok(value: str) -> bool:
    if value == "null":
        return True
    scheme, sep, rest = value.partition("://")
    if not sep or not _ORIGIN_SCHEME.fullmatch(scheme) or "/" in rest:
        return False
    try:
        urlsplit(value).port  # noqa: B018 - parses host and port, raising on nonsense
    except ValueError:
        return False
    return host_ok(rest)


def _readable(value: str) -> bool:
    # aiohttp decodes header bytes as UTF-8 with surrogateescape: a surrogate is a byte that
    # was not UTF-8.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return _CONTROL.search(value) is None


def problem_with(request: web.Request) -> str | None:
    """What is wrong with the request's headers, or None."""
    headers = request.headers
    for name in _INTERPRETED:
        for value in headers.getall(name, ()):
            if not _readable(value):
                return f"{name} is not valid UTF-8 text without control characters"
    hosts = headers.getall("Host", ())
    if len(hosts) > 1:
        return "more than one Host header"
    if not hosts and request.version >= (1, 1):
        return "an HTTP/1.1 request needs a Host header"
    if hosts and not host_ok(hosts[0]):
        return "Host is not host[:port]"
    origins = headers.getall("Origin", ())
    if len(origins) > 1:
        return "more than one Origin header"
    if origins and not origin_ok(origins[0]):
        return "Origin is not null or scheme://host[:port]"
    return None


@web.middleware
async def header_check_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """400 for unreadable framing headers; resolves the client address for everything after."""
    problem = problem_with(request)
    if problem is not None:
        raise Problem(400, f"malformed header: {problem}")
    clients.resolve(request)
    return await handler(request)
