"""Where an application goes when the authority it is with reports ``not_responsible`` (pure).

Unzuständigkeit is settled like intake: routing (`ozgbridge.routing.Router`) names the
responsible tenant for the service and a region —

- with ``forwardTo`` the region the reporter names, resolved exactly as a submission for it
  would be;
- without, the application's own region again, passing over every tenant it has been with.

Either way the answer must be a tenant the application has not been with: forwarding never
returns it to a desk that already had it (no ping-pong). Naming such a tenant explicitly is
refused (409) and the application stays where it is; when routing names nobody at all, the
application becomes ``unroutable`` and waits for an operator.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from ozgbridge.domain import RegionRef
from ozgbridge.errors import RoutingError
from ozgbridge.routing import Resolution, Router
from ozgbridge.status_rules import Refusal


@dataclass(frozen=True)
class Forward:
    """Deliver to this tenant and route next."""

    resolution: Resolution


@dataclass(frozen=True)
class Unroutable:
    """No responsible tenant left; ``reason`` is routing's sentence (service and region)."""

    reason: str


Decision = Forward | Unroutable | Refusal


def decide(
    router: Router,
    *,
    leika_key: str,
    region: RegionRef,
    forward_to: RegionRef | None,
    visited: Collection[str],
) -> Decision:
    """Where the application goes; ``visited`` holds its current tenant and every earlier one."""
    try:
        if forward_to is None:
            return Forward(router.resolve(leika_key, region, exclude=frozenset(visited)))
        resolution = router.resolve(leika_key, forward_to)
    except RoutingError as exc:
        return Unroutable(str(exc))
    if resolution.tenant.id in visited:
        return Refusal(
            409,
            f"service {leika_key} in region {forward_to.ars} is routed to tenant "
            f"{resolution.tenant.id!r}, which has already had this application; forwarding it "
            "there again would send it in circles",
        )
    return Forward(resolution)
