"""What the row builders read: one period's facts, the coverage cells, the tenants in order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from ozgbridge.reporting import queries
from ozgbridge.reporting.availability import RouteChecks, RouteFacts, RouteKey, Verdict, verdict
from ozgbridge.reporting.catalogue import Catalogue
from ozgbridge.reporting.coverage import MEMBERS, Cell
from ozgbridge.reporting.tenant_tree import Placed, RegionIndex, group_names
from ozgbridge.store.demand import DemandCount
from ozgbridge.tenants import Deployment, RouteConfig, TenantConfig

MEMBERS_NAME = "alle Mitgliedskommunen"
OUTSIDE = "außerhalb der Konfiguration"


@dataclass(frozen=True)
class PeriodFacts:
    """Everything the coverage and headline of one period rest on."""

    counts: dict[queries.Pair, queries.Counts]
    routes: dict[RouteKey, RouteFacts]
    checks: dict[RouteKey, RouteChecks] | None
    open_s: dict[RouteKey, float] | None
    demand: Sequence[DemandCount]

    def verdicts(self, deployment: Deployment) -> dict[RouteKey, Verdict]:
        configured = {(t.id, r.id) for t in deployment.tenants.values() for r in t.routes}
        checks = self.checks or {}
        return {
            k: verdict(self.routes.get(k), checks.get(k)) for k in configured | set(self.routes)
        }


@dataclass(frozen=True)
class Inputs:
    deployment: Deployment
    scope: list[TenantConfig]  # in report order
    filtered: list[str] | None  # the tenants asked for; None: all
    places: list[Placed]
    catalogue: Catalogue
    facts: queries.Facts
    current: PeriodFacts
    cells: dict[tuple[str, str], Cell]
    keys: list[str]

    @cached_property
    def _kreise(self) -> dict[str, str]:
        return group_names(self.deployment)

    @cached_property
    def _order(self) -> dict[str, int]:
        return {p.tenant.id: i for i, p in enumerate(self.places)}

    def kreis(self, tenant_id: str) -> str:
        """The name of the tenant's Kreis (its group's head); empty for unknown tenants."""
        return self._kreise.get(tenant_id, "")

    def order(self, tenant_id: str) -> int:
        return self._order.get(tenant_id, len(self.places))

    def name(self, tenant_id: str | None) -> str | None:
        if tenant_id is None:
            return None
        if tenant_id == MEMBERS:
            return MEMBERS_NAME
        tenant = self.deployment.tenants.get(tenant_id)
        return tenant.name if tenant else tenant_id


def own_route(tenant: TenantConfig, leika_key: str) -> RouteConfig | None:
    """The tenant's route for the key: one naming it, else its catch-all, else None."""
    catch_all = None
    for route in tenant.routes:
        if route.is_catch_all:
            catch_all = catch_all or route
        elif route.matches(leika_key):
            return route
    return catch_all


def demand_in_scope(regions: RegionIndex, ars: str, wanted: set[str] | None) -> bool:
    """Unmet demand belongs to the tenant of its region; unfiltered reports show all of it."""
    if wanted is None:
        return True
    tenant = regions.tenant(ars)
    return tenant is not None and tenant.id in wanted


def ozgid(ozg_id: str | None) -> int | None:
    return int(ozg_id) if ozg_id and ozg_id.isdigit() else None
