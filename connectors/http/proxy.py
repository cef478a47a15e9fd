"""Which proxy (if any) the ``http`` connector uses, decided once from the environment.

The same variables and rules as httpx, which the connector used before: ``HTTP_PROXY`` for
``http://`` back-ends, ``HTTPS_PROXY`` for ``https://`` ones, ``ALL_PROXY`` for both, lower-case
names winning over upper-case ones (as in Python's ``urllib.request.getproxies``), and ``NO_PROXY``
with curl's rules: ``*`` for every host; a name matches itself and its sub-domains
(``example.org``), or only the sub-domains (``.example.org``); an IP address or a CIDR network
matches the addresses in it; ``host:port`` matches that port only.

aiohttp could read the environment itself (``trust_env=True``), but it does so on every request,
in two thread hops (measured: a fifth of the throughput), and it would also send ``~/.netrc``
credentials to the back-end, which httpx never did. So the connector decides here, once.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from yarl import URL

__all__ = ["proxy_for"]


def proxy_for(url: URL, environ: Mapping[str, str]) -> URL | None:
    """The proxy to reach ``url`` through, or None for a direct connection.

    ValueError if the variable that applies names a proxy aiohttp cannot use; the message names
    the variable but never its value (it may hold credentials).
    """
    variables = _proxy_variables(environ)
    host = (url.host or "").lower()
    if _bypassed(host, url.port, variables.get("no", ("", ""))[1]):
        return None
    for scheme in (url.scheme, "all"):
        if scheme in variables:
            name, value = variables[scheme]
            break
    else:
        return None
    proxy = URL(value if "://" in value else f"http://{value}")
    if proxy.scheme != "http" or not proxy.host:
        raise ValueError(
            f"the proxy in {name} is not usable: the http connector supports http:// proxies "
            "only (the connection to the back-end is still end-to-end TLS for https:// URLs)"
        )
    return proxy


def _proxy_variables(environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """scheme -> (variable name, value) for ``<scheme>_proxy`` variables; lower case wins."""
    found: dict[str, tuple[str, str]] = {}
    for lower_case_pass in (False, True):
        for name, value in environ.items():
            if not name.lower().endswith("_proxy") or (lower_case_pass and name != name.lower()):
                continue
            if name == "HTTP_PROXY" and "REQUEST_METHOD" in environ:
                continue  # CGI: a client can set it with a "Proxy:" header (CVE-2016-1000110)
            scheme = name[: -len("_proxy")].lower()
            if value.strip():
                found[scheme] = (name, value.strip())
            elif lower_case_pass:  # an empty lower-case variable switches the proxy off
                found.pop(scheme, None)
    return found


def _bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        entry_host, entry_port = _split_port(entry)
        if entry_port is not None and entry_port != port:
            continue
        if _matches(host, entry_host):
            return True
    return False


def _split_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):  # [v6]:port
        address, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return address, int(port) if port.isdigit() else None
    if entry.count(":") == 1:
        name, _, port = entry.partition(":")
        if port.isdigit():
            return name, int(port)
    return entry, None


def _matches(host: str, entry: str) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is not None:
        try:
            return address in ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return False
    if entry.startswith("."):
        return host.endswith(entry)
    return host == entry or host.endswith("." + entry)
