"""Gaps in a deployment: for each municipality of a Kreis, the listed services nobody routes.

``ozgbridge config coverage DIR --services FILE``. The municipalities come from the official
directory (`ozgbridge.regions`) — so a town that has no tenant of its own is checked too, which
is where gaps hide — and, for Länder the shipped directory does not cover, from the deployment's
own tenants in that Kreis. Each (municipality, service) is resolved by the real `Router`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ozgbridge.domain import RegionRef, is_leika_key
from ozgbridge.errors import ConfigError, ConfigProblem, RoutingError
from ozgbridge.regions import Directory
from ozgbridge.routing import Router
from ozgbridge.tenants import Deployment, TenantConfig

_KEY = re.compile(r"\b99\d{12}\b")


def read_services(path: Path) -> list[str]:
    """LeiKa keys from a text file: one per line, anything after the key is a comment (a name),
    ``#`` starts a comment line. `ConfigError` with file:line for a line without a key."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(str(path), "", f"cannot be read: {exc}")]) from exc
    keys: list[str] = []
    problems = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _KEY.search(stripped)
        if match is None or not is_leika_key(match.group()):
            if number == 1 and "leika" in stripped.lower():  # a CSV header
                continue
            problems.append(
                ConfigProblem(str(path), "", "no LeiKa key (14 digits starting with 99)", number)
            )
        elif match.group() not in keys:
            keys.append(match.group())
    if problems:
        raise ConfigError(problems)
    if not keys:
        raise ConfigError([ConfigProblem(str(path), "", "lists no LeiKa keys")])
    return keys


@dataclass(frozen=True)
class Municipality:
    ags: str
    ars: str
    name: str
    tenant_id: str | None  # the tenant serving exactly this region, if any


@dataclass(frozen=True)
class MunicipalityGaps:
    municipality: Municipality
    unrouted: list[str]  # LeiKa keys


@dataclass(frozen=True)
class KreisGaps:
    kreis: str  # 5 digits
    name: str
    tenant_id: str | None
    from_directory: bool  # False: only the deployment's own tenants were checked
    municipalities: list[MunicipalityGaps] = field(default_factory=list)

    @property
    def gaps(self) -> int:
        return sum(len(m.unrouted) for m in self.municipalities)


def kreis_tenants(deployment: Deployment) -> list[TenantConfig]:
    """Tenants whose region is a whole Kreis (or kreisfreie Stadt)."""
    return [t for t in deployment.tenants.values() if t.ars[5:] == "0000000"]


def find_gaps(
    deployment: Deployment,
    directory: Directory,
    services: Sequence[str],
    kreise: Iterable[str] | None = None,
) -> list[KreisGaps]:
    """For each Kreis (5-digit keys; default: every Kreis a tenant serves), its municipalities
    and the ``services`` that no route reaches there."""
    router = Router(deployment)
    by_ars = {t.ars: t for t in deployment.tenants.values()}
    wanted = (
        sorted(dict.fromkeys(kreise))
        if kreise is not None
        else sorted({t.ars[:5] for t in kreis_tenants(deployment)})
    )
    found = []
    for kreis in wanted:
        entry = directory.get(kreis)
        kreis_tenant = by_ars.get(kreis + "0000000")
        places: list[Municipality]
        if directory.covers(kreis):
            places = [
                Municipality(g.ags, g.ars, g.name, _tenant_id(by_ars.get(g.ars)))
                for g in directory.gemeinden_in_kreis(kreis)
            ]
        else:
            places = [
                Municipality(t.ags, t.ars, t.name, t.id)
                for t in sorted(deployment.tenants.values(), key=lambda t: t.ars)
                if t.ars[:5] == kreis and t.ars[5:] != "0000000"
            ]
            if not places and kreis_tenant is not None:  # a kreisfreie Stadt
                t = kreis_tenant
                places = [Municipality(t.ags, t.ars, t.name, t.id)]
        name = entry.name if entry is not None else (kreis_tenant.name if kreis_tenant else kreis)
        result = KreisGaps(kreis, name, _tenant_id(kreis_tenant), directory.covers(kreis))
        for place in places:
            region = RegionRef(ars=place.ars, ags=place.ags)
            unrouted = [s for s in services if not _routed(router, s, region)]
            result.municipalities.append(MunicipalityGaps(place, unrouted))
        found.append(result)
    return found


def _tenant_id(tenant: TenantConfig | None) -> str | None:
    return tenant.id if tenant is not None else None


def _routed(router: Router, service: str, region: RegionRef) -> bool:
    try:
        router.resolve(service, region)
    except RoutingError:
        return False
    return True
