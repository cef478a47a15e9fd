"""Rules that hold a deployment against facts from outside it.

- the official municipality directory (`ozgbridge.regions`): every AGS/ARS exists, a tenant's
  parent is the Kreis (or Verband) its region lies in, names name the right place;
- the LeiKa catalogue shipped for reports: unknown service keys are *warnings*, since a newer
  catalogue may know them;
- the process's delivery limits (`DeliveryLimits`): what ``serve`` would refuse to start with.

Like `ozgbridge.tenant_rules`, each check returns located findings for the loader. A key of a
Land the shipped directory does not cover is reported as a warning ("not in the shipped
directory"), never as an error: the directory cannot tell whether it exists.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ozgbridge.configfile import Loc
from ozgbridge.domain import ags_from_ars
from ozgbridge.regions import Directory, Entry, names_match
from ozgbridge.tenant_models import CATCH_ALL, CHILDREN, TenantConfig
from ozgbridge.tenant_rules import Finding

if TYPE_CHECKING:  # ozgbridge.reporting imports routing, which imports the tenants module
    from ozgbridge.reporting.catalogue import Catalogue


@dataclass(frozen=True)
class DeliveryLimits:
    """The process settings a route's timeout must fit into (``OZGBRIDGE_*``)."""

    delivery_timeout: float
    lease_seconds: float


def _edition(directory: Directory) -> str:
    source = directory.source
    return f"Gemeindeverzeichnis GV-ISys, Gebietsstand {source.gebietsstand:%d.%m.%Y}"


def _uncovered(directory: Directory, key: str) -> str:
    covered = ", ".join(f"{k} {name}" for k, name in sorted(directory.source.states.items()))
    return (
        f"Land {key[:2]} is not in the shipped municipality directory (it covers {covered}), "
        f"so {key} was not checked; run scripts/refresh-gemeindeverzeichnis.py for all Länder"
    )


def _namesake(directory: Directory, tenant: TenantConfig) -> Entry | None:
    """The Gemeinde (or, for a Kreis-level key, the Kreis) of the tenant's Land that its
    configured name names, if exactly one does."""
    level = "kreis" if tenant.ags[5:] == "000" else "gemeinde"
    found = [
        entry
        for entry in directory.entries()
        if entry.key[:2] == tenant.ars[:2]
        and entry.level == level
        and names_match(entry.name, tenant.name)
    ]
    return found[0] if len(found) == 1 else None


def check_regions(tenants: Sequence[TenantConfig], directory: Directory) -> list[Finding]:
    """Each tenant's region exists, and its name names that region (a warning otherwise)."""
    findings = []
    for tenant in tenants:
        if not directory.covers(tenant.ars):
            findings.append(
                Finding(tenant.source, ("ars",), _uncovered(directory, tenant.ars), "warning")
            )
            continue
        entry = directory.region(tenant.ars)
        if entry is None:
            findings.append(Finding(tenant.source, ("ars",), _missing(tenant, directory)))
        elif not names_match(entry.name, tenant.name):
            findings.append(
                Finding(
                    tenant.source,
                    ("name",),
                    f"{tenant.name!r} does not look like the name of {entry.describe()}, "
                    f"the region {tenant.ags} / {tenant.ars} names ({_edition(directory)}): "
                    "check ags/ars",
                    "warning",
                )
            )
    return findings


def _missing(tenant: TenantConfig, directory: Directory) -> str:
    where = f"region {tenant.ags} / {tenant.ars} does not exist ({_edition(directory)})"
    by_ags = directory.region_by_ags(tenant.ags)
    if by_ags is not None:
        # The AGS is right, the ARS is not: outside NRW a derived ARS misses the Verband.
        return f"{where}: AGS {tenant.ags} is {by_ags.describe()} with ARS {by_ags.ars}"
    namesake = _namesake(directory, tenant)
    if namesake is not None:
        return f"{where}; {tenant.name!r} is {namesake.describe()}, ARS {namesake.ars}"
    kreis = directory.kreis_of(tenant.ags)
    if kreis is not None and kreis.level == "kreis":
        return f"{where}; it would lie in {kreis.describe()}"
    return where


def check_delegated_regions(tenants: Sequence[TenantConfig], directory: Directory) -> list[Finding]:
    """The AGS/ARS a delegation lists exist (a warning where the directory cannot tell)."""
    findings = []
    for tenant in tenants:
        for index, responsibility in enumerate(tenant.responsible_for):
            if responsibility.regions == CHILDREN:
                continue
            for position, region in enumerate(responsibility.regions):
                loc: Loc = ("responsible_for", index, "regions", position)
                if not directory.covers(region):
                    findings.append(
                        Finding(tenant.source, loc, _uncovered(directory, region), "warning")
                    )
                    continue
                entry = (
                    directory.region(region)
                    if len(region) == 12
                    else directory.region_by_ags(region)
                )
                if entry is None:
                    findings.append(
                        Finding(
                            tenant.source,
                            loc,
                            f"region {region} does not exist ({_edition(directory)})",
                        )
                    )
    return findings


def _prefix(ars: str) -> str:
    """The digits of an ARS that name its area: a Land 2, a Kreis 5, a Verband 9, else 12."""
    for length in (2, 5, 9):
        if ars[length:].strip("0") == "":
            return ars[:length]
    return ars


def _describe(ars: str, directory: Directory) -> str:
    entry = directory.region(ars)
    if entry is not None:
        return entry.describe()
    prefix = _prefix(ars)
    level = {2: "Land", 5: "Kreis", 9: "Gemeindeverband"}.get(len(prefix), "region")
    return f"{level} {prefix if len(prefix) < 12 else ags_from_ars(ars)}"


def check_parent_regions(tenants: Sequence[TenantConfig], directory: Directory) -> list[Finding]:
    """A tenant's parent serves the area its region lies in: a town's parent is its Kreis."""
    by_id = {tenant.id: tenant for tenant in tenants}
    findings = []
    for tenant in tenants:
        parent = by_id.get(tenant.parent) if tenant.parent is not None else None
        if parent is None or _in_cycle(tenant, by_id):  # cycles are reported as such
            continue
        prefix = _prefix(parent.ars)
        if tenant.ars.startswith(prefix) and len(_prefix(tenant.ars)) > len(prefix):
            continue
        own = _describe(tenant.ars, directory)
        kreis = directory.kreis_of(tenant.ags)
        lies_in = kreis.describe() if kreis is not None else f"Kreis {tenant.ags[:5]}"
        findings.append(
            Finding(
                tenant.source,
                ("parent",),
                f"parent {parent.id!r} is {_describe(parent.ars, directory)}, but this tenant's "
                f"region, {own}, lies in {lies_in}: the parent must be the Kreis (or "
                "Gemeindeverband) its region lies in",
            )
        )
    return findings


def _in_cycle(tenant: TenantConfig, by_id: Mapping[str, TenantConfig]) -> bool:
    seen = {tenant.id}
    current = tenant
    while current.parent is not None and current.parent in by_id:
        if current.parent in seen:
            return True
        seen.add(current.parent)
        current = by_id[current.parent]
    return False


def _services(tenant: TenantConfig) -> Iterator[tuple[Loc, str]]:
    for index, route in enumerate(tenant.routes):
        for position, service in enumerate(route.services):
            if service != CATCH_ALL:
                yield ("routes", index, "services", position), service
    for index, responsibility in enumerate(tenant.responsible_for):
        for position, service in enumerate(responsibility.services):
            yield ("responsible_for", index, "services", position), service


def check_services_known(
    tenants: Sequence[TenantConfig], catalogue: Catalogue, label: str
) -> list[Finding]:
    """LeiKa keys the shipped catalogue does not know: warnings (a newer one may know them)."""
    return [
        Finding(
            tenant.source,
            loc,
            f"service {service} is not in the LeiKa catalogue shipped with ozgbridge ({label}): "
            "check the key; a newer catalogue may know it",
            "warning",
        )
        for tenant in tenants
        for loc, service in _services(tenant)
        if service not in catalogue
    ]


def check_timeouts(tenants: Sequence[TenantConfig], limits: DeliveryLimits) -> list[Finding]:
    """Every attempt ends before its lease does, or a slow one would be delivered twice."""
    findings = []
    for tenant in tenants:
        for index, route in enumerate(tenant.routes):
            timeout = route.timeout or limits.delivery_timeout
            if timeout < limits.lease_seconds:
                continue
            source = "" if route.timeout else " (OZGBRIDGE_DELIVERY_TIMEOUT)"
            findings.append(
                Finding(
                    tenant.source,
                    ("routes", index, "timeout") if route.timeout else ("routes", index),
                    f"timeout {timeout:g} s{source} must be shorter than "
                    f"OZGBRIDGE_LEASE_SECONDS ({limits.lease_seconds:g} s): a slower attempt "
                    "would outlive its lease and be sent twice",
                )
            )
    return findings
