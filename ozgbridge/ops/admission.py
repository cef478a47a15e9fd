"""Which routes a claim may take deliveries from, and how many — decided from plain values.

A route's runtime (pause, breaker, rate bucket) lives in ``route_states``; its policy (breaker
settings, ``max_in_flight``, ``rate_limit``) in the route's YAML. A claim asks `quota` per route
that is not plainly open for business, takes at most that many due deliveries, and stores
`after_claim`'s runtime. Routes that are active, closed and unlimited need no per-route decision:
one set-based claim serves them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from ozgbridge.deployment import Deployment
from ozgbridge.domain import RouteState
from ozgbridge.ops import bucket as buckets
from ozgbridge.ops.breaker import Admission, Breaker, BreakerState, admission, start_probe
from ozgbridge.tenant_models import BreakerConfig, RouteConfig

RouteKey = tuple[str, str]


@dataclass(frozen=True)
class RoutePolicy:
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    max_in_flight: int | None = None
    rate_limit: float | None = None

    @classmethod
    def of(cls, route: RouteConfig) -> RoutePolicy:
        return cls(route.breaker, route.max_in_flight, route.rate_limit)

    @property
    def limited(self) -> bool:
        return self.max_in_flight is not None or self.rate_limit is not None


DEFAULT_POLICY = RoutePolicy()


def policies_of(deployment: Deployment) -> dict[RouteKey, RoutePolicy]:
    """Every configured route's policy."""
    return {
        (tenant.id, route.id): RoutePolicy.of(route)
        for tenant in deployment.tenants.values()
        for route in tenant.routes
    }


@dataclass(frozen=True)
class RouteRuntime:
    """A route's stored state; a route without a stored row is `RouteRuntime()`."""

    paused: bool = False
    breaker: Breaker = field(default_factory=Breaker)
    bucket: buckets.Bucket | None = None
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None

    @property
    def plain(self) -> bool:
        """Active with a closed breaker: nothing to decide per route (unless it has limits)."""
        return not self.paused and self.breaker.state is BreakerState.CLOSED


def display_state(runtime: RouteRuntime) -> RouteState:
    """The one state operators see; a pause outranks the breaker (nothing is attempted anyway)."""
    if runtime.paused:
        return RouteState.PAUSED
    return {
        BreakerState.CLOSED: RouteState.ACTIVE,
        BreakerState.OPEN: RouteState.OPEN,
        BreakerState.HALF_OPEN: RouteState.HALF_OPEN,
    }[runtime.breaker.state]


@dataclass(frozen=True)
class Quota:
    count: int  # deliveries a claim may take from this route now
    probe: bool = False  # the (single) delivery taken is the breaker's probe
    wake_at: datetime | None = None  # when count could grow again by itself (None: unknown)


def quota(
    runtime: RouteRuntime,
    policy: RoutePolicy,
    *,
    free: int,
    in_flight: int,
    probe_alive: bool,
    now: datetime,
) -> Quota:
    """How many due deliveries a claim with ``free`` slots may take from this route."""
    if runtime.paused or free <= 0:
        return Quota(0)
    gate = admission(runtime.breaker, now=now, probe_alive=probe_alive)
    if gate is Admission.NONE:
        wake = runtime.breaker.open_until if runtime.breaker.state is BreakerState.OPEN else None
        return Quota(0, wake_at=wake)
    count = 1 if gate is Admission.PROBE else free
    wake_at = None
    if policy.max_in_flight is not None:
        count = min(count, max(0, policy.max_in_flight - in_flight))
    if policy.rate_limit is not None:
        bucket = buckets.refill(runtime.bucket, rate=policy.rate_limit, now=now)
        tokens = buckets.available(bucket)
        if tokens < count:
            count = tokens
            wake_at = buckets.next_token_at(buckets.take(bucket, tokens), rate=policy.rate_limit)
    return Quota(count, probe=gate is Admission.PROBE and count > 0, wake_at=wake_at)


def after_claim(
    runtime: RouteRuntime,
    policy: RoutePolicy,
    quota: Quota,
    taken: Sequence[str],
    *,
    now: datetime,
) -> RouteRuntime:
    """The runtime once a claim took the deliveries ``taken`` under ``quota``."""
    if len(taken) > quota.count:
        raise ValueError(f"took {len(taken)} deliveries under a quota of {quota.count}")
    updated = runtime
    if policy.rate_limit is not None:
        bucket = buckets.refill(runtime.bucket, rate=policy.rate_limit, now=now)
        updated = replace(updated, bucket=buckets.take(bucket, len(taken)))
    if quota.probe and taken:
        updated = replace(updated, breaker=start_probe(runtime.breaker, taken[0]))
    return updated
