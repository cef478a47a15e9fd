"""Availability per route and period, and the verdict "this route works" that "online" needs.

Pure decisions over facts `ozgbridge.reporting.route_queries` reads:

- **availability** — of the deliveries a route received in the period, the share delivered
  within an hour of receipt. Deliveries younger than an hour that are still under way are left
  out (they may yet make it); ``None`` when nothing is left to measure.
- **verdict** — `DELIVERED` when the route delivered at least once in the period; else
  `FAILING` when it had traffic (deliveries received, attempted or given up in the period);
  else `CHECKED` when a route test/ping (``route_checks``) succeeded in the period; else
  `NO_EVIDENCE`. A route counts as working exactly for `DELIVERED` and `CHECKED`.
- **time with the breaker open** — from the route's state transitions (``route_transitions``):
  seconds in the period (up to now) spent in state ``open``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ozgbridge.reporting.period import Period

RouteKey = tuple[str, str]  # (tenant id, route id)
WITHIN = 3600.0  # seconds: "delivered within an hour"
# Both keep the back-end from traffic: half-open lets through only the one probe delivery.
NOT_CLOSED = frozenset({"open", "half-open"})


class Verdict(StrEnum):
    DELIVERED = "zugestellt"
    CHECKED = "routentest"
    FAILING = "stoerung"
    NO_EVIDENCE = "ohne_nachweis"

    @property
    def works(self) -> bool:
        return self in (Verdict.DELIVERED, Verdict.CHECKED)


@dataclass(frozen=True)
class RouteFacts:
    """What a route's deliveries say about one period."""

    deliveries: int  # received in the period
    within_hour: int  # of those, delivered within an hour of receipt
    undecided: int  # of those, younger than an hour and still under way
    delivered: int  # delivered in the period (whenever received)
    dead: int  # received in the period and given up
    traffic: int  # received, attempted or given up in the period, minus the undecided
    last_delivered_at: datetime | None

    @property
    def availability(self) -> float | None:
        decided = self.deliveries - self.undecided
        return self.within_hour / decided if decided > 0 else None


NO_FACTS = RouteFacts(0, 0, 0, 0, 0, 0, None)


@dataclass(frozen=True)
class RouteChecks:
    """Route tests/pings in one period (``route_checks``)."""

    ok: int
    failed: int


@dataclass(frozen=True)
class Transition:
    at: datetime
    to_state: str


def verdict(facts: RouteFacts | None, checks: RouteChecks | None) -> Verdict:
    facts = facts or NO_FACTS
    if facts.delivered:
        return Verdict.DELIVERED
    if facts.traffic:
        return Verdict.FAILING
    if checks is not None and checks.ok:
        return Verdict.CHECKED
    return Verdict.NO_EVIDENCE


def open_seconds(transitions: Sequence[Transition], period: Period, now: datetime) -> float:
    """Seconds within ``period`` (and before ``now``) the route's breaker was not closed.

    ``transitions`` are the route's, in time order, including those before the period (the last
    of them gives the state the period starts in).
    """
    end = min(period.end, now)
    if end <= period.start:
        return 0.0
    state, since, total = None, period.start, 0.0
    for transition in transitions:
        if transition.at >= end:
            break
        at = max(transition.at, period.start)
        if state in NOT_CLOSED:
            total += (at - since).total_seconds()
        state, since = transition.to_state, at
    if state in NOT_CLOSED:
        total += (end - since).total_seconds()
    return total


def combined_availability(facts: Sequence[RouteFacts]) -> float | None:
    """Availability over several routes: all their deliveries together."""
    decided = sum(f.deliveries - f.undecided for f in facts)
    return sum(f.within_hour for f in facts) / decided if decided > 0 else None
