"""Rules that relate several configuration values: what no single model can check on its own.

Each check returns findings located by source file and field path; the loader turns them into
`ConfigProblem`s with line numbers. Only tenants that passed their own validation are checked here,
but existence checks (parents, key tenants) use every *declared* id, so one broken tenant file
does not cause a cascade of "unknown tenant" findings elsewhere.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ozgbridge.configfile import Loc
from ozgbridge.domain import ags_from_ars
from ozgbridge.errors import Severity
from ozgbridge.tenant_models import CHILDREN, TenantConfig


@dataclass(frozen=True)
class Finding:
    source: Path
    loc: Loc
    message: str
    severity: Severity = "error"


def did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_unique_ids(
    declared: Sequence[tuple[Path, str]], shown: Mapping[Path, str]
) -> list[Finding]:
    """Tenant ids are unique; a clash is reported on every file involved, each naming the others,
    since the file that was just edited is as likely to be the first as the second."""
    files: dict[str, list[Path]] = defaultdict(list)
    for source, tenant_id in declared:
        files[tenant_id].append(source)
    findings = []
    for source, tenant_id in declared:
        others = [shown[other] for other in files[tenant_id] if other != source]
        if others:
            findings.append(
                Finding(
                    source, ("id",), f"tenant id {tenant_id!r} is also used by {', '.join(others)}"
                )
            )
    return findings


def check_routes(tenant: TenantConfig) -> list[Finding]:
    """Within one tenant: unique route ids, each service in one route, one catch-all at most."""
    findings = []
    route_ids: dict[str, int] = {}
    owner: dict[str, int] = {}
    catch_all: int | None = None
    for index, route in enumerate(tenant.routes):
        if route.id in route_ids:
            findings.append(
                Finding(
                    tenant.source,
                    ("routes", index, "id"),
                    f"route id {route.id!r} is already used by routes[{route_ids[route.id]}]",
                )
            )
        else:
            route_ids[route.id] = index
        if route.is_catch_all:
            if catch_all is not None:
                findings.append(
                    Finding(
                        tenant.source,
                        ("routes", index, "services", 0),
                        f"a second catch-all route: routes[{catch_all}] "
                        f"({tenant.routes[catch_all].id!r}) already takes every other service",
                    )
                )
            else:
                catch_all = index
            continue
        for position, service in enumerate(route.services):
            if service in owner:
                other = owner[service]
                findings.append(
                    Finding(
                        tenant.source,
                        ("routes", index, "services", position),
                        f"service {service} is already routed by routes[{other}] "
                        f"({tenant.routes[other].id!r}); a service goes to one route only",
                    )
                )
            else:
                owner[service] = index
    return findings


def check_parents_exist(
    declared_parents: Sequence[tuple[Path, str]], declared_ids: Iterable[str]
) -> list[Finding]:
    """Every parent named in a tenant file is a tenant (checked even where the file is broken)."""
    known = set(declared_ids)
    return [
        Finding(
            source,
            ("parent",),
            f"parent {parent!r} is not a tenant of this deployment" + did_you_mean(parent, known),
        )
        for source, parent in declared_parents
        if parent not in known
    ]


def check_cycles(tenants: Sequence[TenantConfig]) -> list[Finding]:
    """The parent chains contain no cycle; each cycle is reported once."""
    by_id = {tenant.id: tenant for tenant in tenants}
    findings = []
    reported: set[frozenset[str]] = set()
    for tenant in sorted(tenants, key=lambda t: t.id):
        chain = [tenant.id]
        current = tenant
        while current.parent is not None and current.parent in by_id:
            if current.parent in chain:
                cycle = chain[chain.index(current.parent) :]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    start = by_id[min(cycle)]
                    loop = _loop_from(start.id, by_id)
                    findings.append(
                        Finding(
                            start.source,
                            ("parent",),
                            "a tenant cannot be its own parent"
                            if len(cycle) == 1
                            else f"parents form a cycle: {' → '.join(loop)}",
                        )
                    )
                break
            chain.append(current.parent)
            current = by_id[current.parent]
    return findings


def _loop_from(start: str, by_id: Mapping[str, TenantConfig]) -> list[str]:
    loop = [start]
    parent = by_id[start].parent
    while parent is not None and parent != start:
        loop.append(parent)
        parent = by_id[parent].parent
    return [*loop, start]


def check_regions(tenants: Sequence[TenantConfig], shown: Mapping[Path, str]) -> list[Finding]:
    """No two tenants serve the same region: routing by region would be ambiguous. Reported on
    every tenant involved (the edited file may sort first or last)."""
    serving: dict[str, list[TenantConfig]] = defaultdict(list)
    for tenant in tenants:
        serving[tenant.ars].append(tenant)
    findings = []
    for tenant in tenants:
        others = [other for other in serving[tenant.ars] if other is not tenant]
        if others:
            named = ", ".join(f"{other.id!r} ({shown[other.source]})" for other in others)
            findings.append(
                Finding(
                    tenant.source,
                    ("ars",),
                    f"region {tenant.ags} / {tenant.ars} is also served by tenant {named}",
                )
            )
    return findings


@dataclass(frozen=True)
class _Claim:
    """One (service, region) a tenant declares itself responsible for."""

    tenant: TenantConfig
    service: str
    ars: str | None  # None when the region was given as an AGS only
    ags: str
    loc: Loc

    def overlaps(self, other: _Claim) -> bool:
        if self.service != other.service or self.ags != other.ags:
            return False
        # An AGS covers every ARS with that AGS; two ARS must be equal.
        return self.ars is None or other.ars is None or self.ars == other.ars


def check_delegations(
    tenants: Sequence[TenantConfig],
    shown: Mapping[Path, str],
    declared_parents: Iterable[str] = (),
    *,
    incomplete: bool = False,
) -> list[Finding]:
    """Delegations name real children, are deliverable, and never give one case to two tenants.

    ``declared_parents`` are the parents named in every tenant file, valid or not, and
    ``incomplete`` says that some tenant file could not be read: a child may be hiding there, so
    "no tenant has this parent" is not reported then.
    """
    named_as_parent = set(declared_parents)
    children: dict[str, list[TenantConfig]] = defaultdict(list)
    for tenant in tenants:
        if tenant.parent is not None:
            children[tenant.parent].append(tenant)
    names = {tenant.ags: tenant.name for tenant in tenants}
    findings = []
    claims: dict[tuple[str, str], list[_Claim]] = defaultdict(list)
    for tenant in tenants:
        for index, responsibility in enumerate(tenant.responsible_for):
            here: Loc = ("responsible_for", index)
            for position, service in enumerate(responsibility.services):
                if not any(route.matches(service) for route in tenant.routes):
                    findings.append(
                        Finding(
                            tenant.source,
                            (*here, "services", position),
                            f"no route of tenant {tenant.id!r} takes service {service}, "
                            "so it could not deliver what it is responsible for",
                        )
                    )
            regions: list[tuple[str | None, str, Loc]]
            if responsibility.regions == CHILDREN:
                kids = children.get(tenant.id, [])
                if not kids and not incomplete and tenant.id not in named_as_parent:
                    findings.append(
                        Finding(
                            tenant.source,
                            (*here, "regions"),
                            f"'children', but no tenant has parent {tenant.id!r}",
                        )
                    )
                # Two children with one region are reported as such (check_regions); claiming
                # their region once keeps that from showing up as a double delegation too.
                regions = [
                    (ars, ags_from_ars(ars), (*here, "regions"))
                    for ars in dict.fromkeys(kid.ars for kid in kids)
                ]
            else:
                regions = [
                    (region, ags_from_ars(region), (*here, "regions", position))
                    if len(region) == 12
                    else (None, region, (*here, "regions", position))
                    for position, region in enumerate(responsibility.regions)
                ]
            for service in responsibility.services:
                for ars, ags, loc in regions:
                    claim = _Claim(tenant, service, ars, ags, loc)
                    for earlier in claims[(service, ags)]:
                        if claim.overlaps(earlier):
                            findings.append(_overlap(claim, earlier, names, shown))
                            break
                    claims[(service, ags)].append(claim)
    return findings


def _overlap(
    claim: _Claim, earlier: _Claim, names: Mapping[str, str], shown: Mapping[Path, str]
) -> Finding:
    region = f"{claim.ags} / {claim.ars}" if claim.ars else claim.ags
    if claim.ags in names:
        region += f" ({names[claim.ags]})"
    if earlier.tenant is claim.tenant:
        message = f"service {claim.service} in region {region} is delegated to this tenant twice"
    else:
        message = (
            f"service {claim.service} in region {region} is delegated to two tenants: "
            f"{earlier.tenant.id!r} ({shown[earlier.tenant.source]}) "
            f"and {claim.tenant.id!r} ({shown[claim.tenant.source]})"
        )
    return Finding(claim.tenant.source, claim.loc, message)
