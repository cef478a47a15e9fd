"""Where deliveries may connect to: ``OZGBRIDGE_CONNECTOR_ALLOWED_NETWORKS``.

A tenant file names the URL or host a connector delivers to. Without a bound, a tenant file (or
whoever can change one, or a DNS name it points at) can aim deliveries at the cloud's metadata
service, the database, or anything else inside the network the workers sit in. With
``OZGBRIDGE_CONNECTOR_ALLOWED_NETWORKS`` set (CIDRs, comma-separated), a connector connects only
to addresses inside those networks:

- checked on the address actually connected to, after DNS resolution, at delivery time — a name
  that resolves to a forbidden address is refused (permanently: the route is wrong, not the
  back-end busy), and of several addresses only the allowed ones are tried;
- checked by ``ozgbridge config validate`` (and at start) for hosts written as literal addresses.

Unset, deliveries may go anywhere (the default).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from ozgbridge.errors import OzgbridgeError

ENVIRONMENT_VARIABLE = "OZGBRIDGE_CONNECTOR_ALLOWED_NETWORKS"
Network = IPv4Network | IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """``10.20.0.0/16, 2001:db8::/32`` as networks; ValueError naming what is not one."""
    networks = []
    for part in text.split(","):
        item = part.strip()
        if not item:
            continue
        try:
            networks.append(ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not a network (CIDR, e.g. 10.20.0.0/16)") from None
    return tuple(networks)


class EgressRefused(OzgbridgeError, OSError):
    """A connection to an address outside the allowed networks; never attempted."""

    def __init__(self, host: str, addresses: Sequence[str]) -> None:
        self.host = host
        self.addresses = tuple(addresses)
        shown = ", ".join(self.addresses[:4]) or "no address"
        where = f"{host} ({shown})" if shown != host else host
        super().__init__(f"{where} is outside {ENVIRONMENT_VARIABLE}")


@dataclass(frozen=True)
class EgressPolicy:
    """The allowed networks; `ANYWHERE` when the setting is unset."""

    networks: tuple[Network, ...] | None = None

    @classmethod
    def of(cls, networks: Iterable[Network] | None) -> EgressPolicy:
        return cls(None if networks is None else tuple(networks))

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> EgressPolicy:
        text = (os.environ if environ is None else environ).get(ENVIRONMENT_VARIABLE)
        return cls(parse_networks(text) if text else None)

    @property
    def restricted(self) -> bool:
        return self.networks is not None

    def allows(self, address: str | IPv4Address | IPv6Address) -> bool:
        if self.networks is None:
            return True
        try:
            parsed = ip_address(address) if isinstance(address, str) else address
        except ValueError:
            return False
        if isinstance(parsed, IPv6Address) and parsed.ipv4_mapped is not None:
            parsed = parsed.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
        return any(parsed in network for network in self.networks)

    def literal_problem(self, host: str) -> str | None:
        """Why a host written as a literal address is not allowed (None: allowed or a name)."""
        try:
            address = ip_address(host.strip("[]"))
        except ValueError:
            return None
        if self.allows(address):
            return None
        return f"{host} is outside {ENVIRONMENT_VARIABLE}"

    def check(self, host: str, addresses: Sequence[str]) -> list[str]:
        """The allowed ones of ``addresses`` (resolved from ``host``); `EgressRefused` if none."""
        allowed = [address for address in addresses if self.allows(address)]
        if not allowed:
            raise EgressRefused(host, addresses)
        return allowed


ANYWHERE = EgressPolicy()


async def connect(
    policy: EgressPolicy, host: str, port: int, *, connect_timeout: float | None = None
) -> socket.socket:
    """A TCP socket connected to an allowed address of ``host`` (for libraries that take a
    connected socket, so the address checked is the address used)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    allowed = set(policy.check(host, [str(info[4][0]) for info in infos]))
    last: OSError | None = None
    for family, kind, proto, _name, address in infos:
        if str(address[0]) not in allowed:
            continue
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, address), connect_timeout)
        except (OSError, TimeoutError) as exc:
            sock.close()
            last = exc if isinstance(exc, OSError) else TimeoutError(f"connect to {host}")
            continue
        return sock
    assert last is not None
    raise last
