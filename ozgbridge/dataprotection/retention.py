"""Retention decisions (pure): how long each route keeps a finished application's content.

A route's ``retention`` wins field by field over its tenant's, which wins over the process
settings. A route or tenant no longer in the configuration keeps what is left: its tenant's
policy, or the settings'.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ozgbridge.deployment import Deployment
from ozgbridge.domain import ApplicationStatus
from ozgbridge.tenant_models import Retention

RoutePair = tuple[str, str]  # (tenant id, route id)


@dataclass(frozen=True, order=True)
class RetentionPolicy:
    """Days a finished application's content is kept after it was delivered, or went dead."""

    delivered_days: int
    dead_days: int

    def finished_before(self, status: ApplicationStatus, now: datetime) -> datetime:
        """Applications that reached ``status`` at or before this instant are due (a cancelled
        one is kept as long as a dead one)."""
        days = self.delivered_days if status is ApplicationStatus.DELIVERED else self.dead_days
        return now - timedelta(days=days)

    def over(self, retention: Retention | None) -> RetentionPolicy:
        """This policy with the fields ``retention`` sets replaced."""
        if retention is None:
            return self
        return RetentionPolicy(
            self.delivered_days if retention.delivered_days is None else retention.delivered_days,
            self.dead_days if retention.dead_days is None else retention.dead_days,
        )


def policy_for(
    deployment: Deployment, defaults: RetentionPolicy, tenant_id: str, route_id: str
) -> RetentionPolicy:
    tenant = deployment.tenants.get(tenant_id)
    if tenant is None:
        return defaults
    policy = defaults.over(tenant.retention)
    try:
        route = deployment.route(tenant_id, route_id)
    except KeyError:
        return policy
    return policy.over(route.retention)


def group_by_policy(
    deployment: Deployment, defaults: RetentionPolicy, pairs: Iterable[RoutePair]
) -> dict[RetentionPolicy, list[RoutePair]]:
    """The routes holding content, grouped so that one query per policy purges them all."""
    groups: dict[RetentionPolicy, list[RoutePair]] = {}
    for pair in sorted(set(pairs)):
        groups.setdefault(policy_for(deployment, defaults, *pair), []).append(pair)
    return dict(sorted(groups.items()))
