"""Routing: who is responsible (zuständig) for a service in a region, and through which route.

Rules, first match wins:

1. **delegated** — a tenant whose ``responsible_for`` covers (service, region), e.g. the Kreis for
   Kfz-Zulassung in all its towns;
2. **own** — the tenant of the region, if one of its routes takes the service;
3. **parent** — the nearest ancestor (parent, grandparent, …) with a route taking the service;
4. otherwise a `RoutingError` naming the service and the region.

Within one tenant a route listing the LeiKa key wins over its catch-all route (``"*"``).

Forwarding (an authority reports it is not responsible) resolves again with ``exclude``: the
tenants the application has already been with are passed over at every step — a delegation to
one of them no longer applies, an excluded region tenant hands on to its ancestors — so the
answer is the next responsible tenant, never one that already said no.

A region is looked up by its ARS first and by its AGS if no tenant (or delegation) names that ARS:
tenants are often configured by AGS (the NRW rule derives the ARS), while portals send an ARS,
or the other way round.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from ozgbridge.domain import RegionRef, ags_from_ars
from ozgbridge.errors import ConfigError, RoutingError
from ozgbridge.tenants import CHILDREN, Deployment, RouteConfig, TenantConfig

Reason = Literal["delegated", "own", "parent"]


@dataclass(frozen=True)
class Resolution:
    """The answer for one (service, region): who receives it, by which route, and why."""

    tenant: TenantConfig
    route: RouteConfig
    reason: Reason


class _Ambiguous:
    """Marks an AGS that several tenants claim: a lookup by AGS alone cannot decide."""

    def __init__(self, tenant_ids: Iterable[str]) -> None:
        self.tenant_ids = sorted(tenant_ids)


def _ancestors(tenant: TenantConfig, deployment: Deployment) -> tuple[TenantConfig, ...]:
    chain: list[TenantConfig] = []
    seen = {tenant.id}
    parent = tenant.parent
    # A loaded deployment has no cycles; the guard keeps a hand-built one from hanging.
    while parent is not None and parent in deployment.tenants and parent not in seen:
        seen.add(parent)
        chain.append(deployment.tenants[parent])
        parent = deployment.tenants[parent].parent
    return tuple(chain)


class Router:
    """Resolves (service, region) for one deployment; build it once, it is on the hot path.

    Every lookup is a handful of dictionary accesses: the indexes are computed here. A
    deployment whose delegations cannot be delivered (not checked by `load_deployment`) is
    refused with `ConfigError`.
    """

    def __init__(self, deployment: Deployment) -> None:
        tenants = list(deployment.tenants.values())
        self._exact: dict[str, dict[str, RouteConfig]] = {}
        self._catch_all: dict[str, RouteConfig] = {}
        for tenant in tenants:
            exact = self._exact[tenant.id] = {}
            for route in tenant.routes:
                if route.is_catch_all:
                    self._catch_all.setdefault(tenant.id, route)
                else:
                    for service in route.services:
                        exact.setdefault(service, route)

        self._by_ars = {tenant.ars: tenant for tenant in tenants}
        tenants_by_ags: dict[str, dict[str, TenantConfig]] = defaultdict(dict)
        for tenant in tenants:
            tenants_by_ags[tenant.ags][tenant.id] = tenant
        self._by_ags: dict[str, TenantConfig | _Ambiguous] = {
            ags: next(iter(owners.values())) if len(owners) == 1 else _Ambiguous(owners)
            for ags, owners in tenants_by_ags.items()
        }
        self._ancestors = {tenant.id: _ancestors(tenant, deployment) for tenant in tenants}

        by_ars: dict[tuple[str, str], TenantConfig] = {}
        explicit_ags: dict[tuple[str, str], dict[str, TenantConfig]] = defaultdict(dict)
        derived_ags: dict[tuple[str, str], dict[str, TenantConfig]] = defaultdict(dict)
        for tenant in tenants:
            for responsibility in tenant.responsible_for:
                if responsibility.regions == CHILDREN:
                    regions = [child.ars for child in deployment.children(tenant.id)]
                else:
                    regions = list(responsibility.regions)
                for service in responsibility.services:
                    for region in regions:
                        if len(region) == 12:
                            by_ars[(service, region)] = tenant
                            derived_ags[(service, ags_from_ars(region))][tenant.id] = tenant
                        else:
                            explicit_ags[(service, region)][tenant.id] = tenant
        self._delegated_ars = {
            (service, ars): self._delegated(tenant, service)
            for (service, ars), tenant in by_ars.items()
        }
        self._delegated_ags = self._by_key(explicit_ags)
        # Consulted only for an ARS no tenant has: there an ARS delegation also answers for its
        # AGS, as the tenant lookup does. For a known ARS it would confuse a Verbandsgemeinde
        # with its Kreis, which share the AGS.
        self._delegated_derived_ags = self._by_key(derived_ags)

    def _by_key(
        self, claims: Mapping[tuple[str, str], Mapping[str, TenantConfig]]
    ) -> dict[tuple[str, str], Resolution | _Ambiguous]:
        return {
            key: self._delegated(next(iter(owners.values())), key[0])
            if len(owners) == 1
            else _Ambiguous(owners)
            for key, owners in claims.items()
        }

    def _delegated(self, tenant: TenantConfig, service: str) -> Resolution:
        route = self._route(tenant.id, service)
        if route is None:
            raise ConfigError(
                f"tenant {tenant.id!r} is responsible for service {service} by delegation "
                "but has no route for it"
            )
        return Resolution(tenant, route, "delegated")

    def _route(self, tenant_id: str, leika_key: str) -> RouteConfig | None:
        route = self._exact[tenant_id].get(leika_key)
        return route if route is not None else self._catch_all.get(tenant_id)

    def resolve(
        self, leika_key: str, region: RegionRef, *, exclude: Collection[str] = ()
    ) -> Resolution:
        """The responsible tenant and route for ``leika_key`` in ``region``, or `RoutingError`.

        Tenants in ``exclude`` are passed over (see the module's note on forwarding).
        """
        ars = region.ars
        ags = ars[:5] + ars[9:]  # ags_from_ars without re-validating a validated RegionRef
        where = f"{ags} / {ars}"

        delegated: Resolution | _Ambiguous | None = self._delegated_ars.get((leika_key, ars))
        if delegated is None:
            delegated = self._delegated_ags.get((leika_key, ags))
        if delegated is None and ars not in self._by_ars:
            delegated = self._delegated_derived_ags.get((leika_key, ags))
        if isinstance(delegated, _Ambiguous):
            raise self._error(
                leika_key,
                where,
                f"it is delegated to several tenants ({', '.join(delegated.tenant_ids)})",
            )
        if delegated is not None and delegated.tenant.id not in exclude:
            return delegated

        tenant = self._by_ars.get(ars)
        if tenant is None:
            match = self._by_ags.get(ags)
            if isinstance(match, _Ambiguous):
                raise self._error(
                    leika_key,
                    where,
                    f"its AGS names several tenants ({', '.join(match.tenant_ids)})",
                )
            if match is None:
                raise self._error(leika_key, where, "this region is not served by this deployment")
            tenant = match

        route = self._route(tenant.id, leika_key) if tenant.id not in exclude else None
        if route is not None:
            return Resolution(tenant, route, "own")
        for ancestor in self._ancestors[tenant.id]:
            if ancestor.id in exclude:
                continue
            route = self._route(ancestor.id, leika_key)
            if route is not None:
                return Resolution(ancestor, route, "parent")
        why = f"neither tenant {tenant.id!r} nor its parents route this service"
        if exclude:
            why += f" (passing over {', '.join(sorted(exclude))}, who had it already)"
        raise self._error(leika_key, where, why)

    @staticmethod
    def _error(leika_key: str, where: str, why: str) -> RoutingError:
        return RoutingError(
            f"no authority is responsible for service {leika_key} in region {where}: {why}",
            leika_key=leika_key,
            region=where.rsplit(" / ", 1)[-1],
        )
