"""Coverage: is a service online for a tenant's region, who serves it there, how mature.

**Offered** (angeboten) — routing a submission of S from T's own region (its ARS) reaches a route
— T's own, an ancestor's, or a delegate's such as the Kreis for Kfz-Zulassung — that names S, or
a catch-all (``*``) route whose tenant received at least one application for S in the period (a
catch-all alone proves nothing: it takes any key, also services nobody offers).

**Online** (online means available) — offered, *and* the serving route works in the period (it
delivered at least once, or had no traffic and a successful route test; see
`ozgbridge.reporting.availability`), *and*, where the route declares a Reifegrad, that level
meets the federal threshold (`ozgbridge.reporting.federal.ONLINE_FROM_LEVEL`).

**Members** — a tenant with member tenants (a Kreis and its towns) for which S is not online by
its own routing is online when S is online for every member: a Kreis's area is its towns' areas.
Where its own routing does not offer S, it is offered exactly when every member offers it.

**Area** (``art_flaechendeckung``, federal spelling) for an online cell: ``landesweit
flächendeckend`` when a Land-level tenant above (or at) T has S online in its whole subtree,
else ``kreisweit flächendeckend`` when a Kreis-level tenant (ARS ends after the Kreis digits)
above or at T does, else ``in mind. einer Kommune verfügbar``; empty when not online.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from ozgbridge.domain import RegionRef
from ozgbridge.errors import RoutingError
from ozgbridge.reporting import federal
from ozgbridge.reporting.availability import RouteKey, Verdict
from ozgbridge.reporting.tenant_tree import ancestors_and_self, descendants
from ozgbridge.routing import Resolution, Router
from ozgbridge.tenants import Deployment, Maturity

MEMBERS = "members"  # served_by when a region is covered through all its member tenants

ActivePairs = Callable[[Sequence[str]], Awaitable[set[tuple[str, str]]]]


class Reason(StrEnum):
    """Why a cell is (not) online — stable codes for machines, labelled in German for people."""

    DELIVERED = "zugestellt"
    CHECKED = "routentest"
    MEMBERS = "alle_mitglieder"
    SOME_MEMBERS = "nicht_alle_mitglieder"
    NOBODY = "nicht_zustaendig"
    CATCH_ALL_UNUSED = "sammelroute_ungenutzt"
    FAILING = "stoerung"
    NO_EVIDENCE = "ohne_nachweis"
    MATURITY = "reifegrad_unter_schwelle"


@dataclass(frozen=True)
class Cell:
    offered: bool
    online: bool
    reason: Reason
    served_by: str | None = None
    route_id: str | None = None
    maturity: Maturity | None = None
    area: str | None = None


NOBODY = Cell(False, False, Reason.NOBODY)


def own_cell(resolution: Resolution | None, active: bool, verdict: Verdict | None) -> Cell:
    """The cell from a tenant's own routing alone (members aside)."""
    if resolution is None:
        return NOBODY
    served_by, route = resolution.tenant.id, resolution.route
    if route.is_catch_all and not active:
        return Cell(False, False, Reason.CATCH_ALL_UNUSED, served_by, route.id, route.maturity)
    verdict = verdict or Verdict.NO_EVIDENCE
    if not verdict.works:
        reason = Reason.FAILING if verdict is Verdict.FAILING else Reason.NO_EVIDENCE
        return Cell(True, False, reason, served_by, route.id, route.maturity)
    maturity = route.maturity
    if maturity is not None and not federal.meets_online_threshold(maturity.model, maturity.level):
        return Cell(True, False, Reason.MATURITY, served_by, route.id, maturity)
    reason = Reason.DELIVERED if verdict is Verdict.DELIVERED else Reason.CHECKED
    return Cell(True, True, reason, served_by, route.id, maturity)


def _lowest(maturities: Iterable[Maturity | None]) -> Maturity | None:
    """The lowest level if all declare one in the same model; else unknown."""
    found = list(maturities)
    if not found or any(m is None for m in found):
        return None
    models = {m.model for m in found if m is not None}
    if len(models) != 1:
        return None
    return min((m for m in found if m is not None), key=lambda m: m.level)


async def coverage(
    deployment: Deployment,
    keys: Iterable[str],
    active_pairs: ActivePairs,
    verdicts: Mapping[RouteKey, Verdict],
) -> dict[tuple[str, str], Cell]:
    """Cells for every tenant of the deployment and every key; ``active_pairs`` runs one query
    (which catch-all tenants received which keys)."""
    router = Router(deployment)
    keys = sorted(set(keys))
    resolved: dict[tuple[str, str], Resolution | None] = {}
    for tenant in deployment.tenants.values():
        region = RegionRef(ars=tenant.ars, ags=tenant.ags)
        for key in keys:
            try:
                resolved[(tenant.id, key)] = router.resolve(key, region)
            except RoutingError:
                resolved[(tenant.id, key)] = None
    catch_all = sorted({r.tenant.id for r in resolved.values() if r and r.route.is_catch_all})
    active = await active_pairs(catch_all) if catch_all else set()

    cells: dict[tuple[str, str], Cell] = {}

    def cell(tenant_id: str, key: str) -> Cell:
        known = cells.get((tenant_id, key))
        if known is not None:
            return known
        r = resolved[(tenant_id, key)]
        own = own_cell(
            r,
            r is not None and (r.tenant.id, key) in active,
            verdicts.get((r.tenant.id, r.route.id)) if r is not None else None,
        )
        result = own
        members = [cell(child.id, key) for child in deployment.children(tenant_id)]
        if not own.online and members and all(m.online for m in members):
            result = Cell(
                True, True, Reason.MEMBERS, MEMBERS, None, _lowest(m.maturity for m in members)
            )
        elif members and not own.offered:
            # The area is the members': say so, offered if every member offers it.
            result = Cell(all(m.offered for m in members), False, Reason.SOME_MEMBERS)
        cells[(tenant_id, key)] = result
        return result

    for tenant_id in deployment.tenants:
        for key in keys:
            cell(tenant_id, key)
    below = {t: [d.id for d in descendants(deployment, t)] for t in deployment.tenants}
    chains = {t: ancestors_and_self(deployment, t) for t in deployment.tenants}

    def whole(head: str, key: str) -> bool:
        return cells[(head, key)].online and all(cells[(t, key)].online for t in below[head])

    def area(tenant_id: str, key: str) -> str | None:
        if not cells[(tenant_id, key)].online:
            return None
        for is_level, value in (
            (federal.is_land, federal.STATEWIDE),
            (federal.is_kreis, federal.DISTRICTWIDE),
        ):
            if any(is_level(t.ars) and whole(t.id, key) for t in chains[tenant_id]):
                return value
        return federal.AT_LEAST_ONE

    return {pair: replace(c, area=area(*pair)) for pair, c in cells.items()}
