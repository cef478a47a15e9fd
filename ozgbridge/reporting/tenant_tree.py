"""The tenants as coordinators read them: each Kreis first, then its towns.

A *group* is a tenant without a parent in the deployment (a Kreis, a kreisfreie Stadt, an IT
provider's own tenant) together with everything below it. Reports list groups by name, and in a
group the head first, then the members depth-first by name — so a Kreis is never lost among its
towns, and each town appears under its Kreis.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ozgbridge.domain import ags_from_ars
from ozgbridge.tenants import Deployment, TenantConfig


@dataclass(frozen=True)
class Placed:
    """A tenant with its place in the tree."""

    tenant: TenantConfig
    group: str  # id of the group's head
    depth: int  # 0: the head


def _roots(deployment: Deployment) -> list[TenantConfig]:
    return [t for t in deployment.tenants.values() if t.parent not in deployment.tenants]


def placed(deployment: Deployment) -> list[Placed]:
    """Every tenant of the deployment in report order."""
    out: list[Placed] = []

    def visit(tenant: TenantConfig, group: str, depth: int) -> None:
        out.append(Placed(tenant, group, depth))
        for child in sorted(deployment.children(tenant.id), key=lambda t: (t.name, t.id)):
            visit(child, group, depth + 1)

    for root in sorted(_roots(deployment), key=lambda t: (t.name, t.id)):
        visit(root, root.id, 0)
    return out


def group_names(deployment: Deployment) -> dict[str, str]:
    """Tenant id → name of its group's head (its Kreis)."""
    return {p.tenant.id: deployment.tenants[p.group].name for p in placed(deployment)}


def groups(
    deployment: Deployment, tenant_ids: Iterable[str]
) -> list[tuple[TenantConfig, list[str]]]:
    """The groups (Kreise) the tenants belong to, in report order, each with those of its
    members that are among ``tenant_ids``."""
    wanted = set(tenant_ids)
    found: dict[str, list[str]] = {}
    for p in placed(deployment):
        if p.tenant.id in wanted:
            found.setdefault(p.group, []).append(p.tenant.id)
    return [(deployment.tenants[head], members) for head, members in found.items()]


def descendants(deployment: Deployment, tenant_id: str) -> list[TenantConfig]:
    found: list[TenantConfig] = []
    stack = list(deployment.children(tenant_id))
    while stack:
        tenant = stack.pop()
        found.append(tenant)
        stack.extend(deployment.children(tenant.id))
    return found


def ancestors_and_self(deployment: Deployment, tenant_id: str) -> list[TenantConfig]:
    chain: list[TenantConfig] = []
    current = deployment.tenants.get(tenant_id)
    while current is not None and current not in chain:
        chain.append(current)
        current = deployment.tenants.get(current.parent) if current.parent else None
    return chain


class RegionIndex:
    """The tenant whose region an ARS names: by ARS, else by its AGS if exactly one has it."""

    def __init__(self, tenants: Iterable[TenantConfig]) -> None:
        tenants = list(tenants)
        self._by_ars = {t.ars: t for t in tenants}
        by_ags: dict[str, list[TenantConfig]] = {}
        for tenant in tenants:
            by_ags.setdefault(tenant.ags, []).append(tenant)
        self._by_ags = {ags: found[0] for ags, found in by_ags.items() if len(found) == 1}

    def tenant(self, ars: str) -> TenantConfig | None:
        found = self._by_ars.get(ars)
        if found is None and len(ars) == 12 and ars.isdigit():
            found = self._by_ags.get(ags_from_ars(ars))
        return found
