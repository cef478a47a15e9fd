"""Coverage: is a service online for a tenant's region, who serves it there, how mature.

**Online.** Service S is online for tenant T when

1. routing a submission of S from T's own region (its ARS) reaches a route — T's own, an
   ancestor's, or a delegate's such as the Kreis for Kfz-Zulassung — that names S explicitly, or
   is a catch-all (``*``) route whose tenant received at least one application for S in the
   period (a catch-all alone proves nothing: it takes any key, also services nobody offers); or
2. T has member tenants (a Kreis and its towns) and S is online for every one of them: a Kreis's
   area is exactly its towns' areas, so it is covered when all of them are.

**Area-wide** (flächendeckend) exactly when S is online for every tenant in scope; ``teilweise``
when for some, ``keine`` when for none — the value of ``art_flaechendeckung``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from ozgbridge.domain import RegionRef
from ozgbridge.errors import RoutingError
from ozgbridge.reporting.model import AREA_WIDE, NOWHERE, PARTIAL
from ozgbridge.routing import Resolution, Router
from ozgbridge.tenants import Deployment, Maturity, TenantConfig

MEMBERS = "members"  # served_by when a region is covered through all its member tenants

ActivePairs = Callable[[Sequence[str]], Awaitable[set[tuple[str, str]]]]


@dataclass(frozen=True)
class Cell:
    online: bool
    served_by: str | None = None
    maturity: Maturity | None = None


def art(online: int, in_scope: int) -> str:
    return AREA_WIDE if online == in_scope else PARTIAL if online else NOWHERE


def _lowest(maturities: Iterable[Maturity | None]) -> Maturity | None:
    """The lowest level if all declare one in the same model; else unknown."""
    found = list(maturities)
    if not found or any(m is None for m in found):
        return None
    models = {m.model for m in found if m is not None}
    if len(models) != 1:
        return None
    return min((m for m in found if m is not None), key=lambda m: m.level)


def _subtree(deployment: Deployment, tenants: Iterable[TenantConfig]) -> list[TenantConfig]:
    seen: dict[str, TenantConfig] = {}
    stack = list(tenants)
    while stack:
        tenant = stack.pop()
        if tenant.id not in seen:
            seen[tenant.id] = tenant
            stack.extend(deployment.children(tenant.id))
    return list(seen.values())


async def coverage(
    deployment: Deployment,
    scope: Sequence[TenantConfig],
    keys: Iterable[str],
    active_pairs: ActivePairs,
) -> dict[tuple[str, str], Cell]:
    """Cells for every tenant in ``scope`` and every key; ``active_pairs`` runs one query."""
    router = Router(deployment)
    tenants = _subtree(deployment, scope)
    keys = sorted(set(keys))
    resolved: dict[tuple[str, str], Resolution | None] = {}
    for tenant in tenants:
        region = RegionRef(ars=tenant.ars, ags=tenant.ags)
        for key in keys:
            try:
                resolved[(tenant.id, key)] = router.resolve(key, region)
            except RoutingError:
                resolved[(tenant.id, key)] = None
    catch_all = sorted({r.tenant.id for r in resolved.values() if r and r.route.is_catch_all})
    active = await active_pairs(catch_all) if catch_all else set()

    cells: dict[tuple[str, str], Cell] = {}

    def cell(tenant: TenantConfig, key: str) -> Cell:
        known = cells.get((tenant.id, key))
        if known is not None:
            return known
        r = resolved[(tenant.id, key)]
        if r is not None and (not r.route.is_catch_all or (r.tenant.id, key) in active):
            result = Cell(True, r.tenant.id, r.route.maturity)
        else:
            members = [cell(child, key) for child in deployment.children(tenant.id)]
            if members and all(m.online for m in members):
                result = Cell(True, MEMBERS, _lowest(m.maturity for m in members))
            else:
                result = Cell(False)
        cells[(tenant.id, key)] = result
        return result

    return {(t.id, key): cell(t, key) for t in scope for key in keys}
