"""Who may operate on what: operators on everything, tenant keys on their own tenant only.

A tenant key naming another tenant in a filter gets 403 (the answer would look complete while it
is not); a single item of another tenant is answered 404, exactly like a missing one, so a key
cannot learn which ids exist. Portal, coordinator and metrics keys get 403.
"""

from __future__ import annotations

from aiohttp import web

from ozgbridge.api.auth import authenticate
from ozgbridge.api.problems import Problem
from ozgbridge.api.state import current_deployment
from ozgbridge.tenants import ApiKey, Role

OPERATING_ROLES = (Role.OPERATOR, Role.TENANT)


def operating_key(request: web.Request) -> ApiKey:
    key = authenticate(request, current_deployment(request))
    if key.role not in OPERATING_ROLES:
        raise Problem(403, f"role {key.role} may not see or change deliveries and routes")
    return key


def actor(key: ApiKey) -> str:
    return f"key:{key.id}"


def tenants_for(key: ApiKey, requested: str | None) -> list[str] | None:
    """The tenants a filter may cover (None: all); 403 when a tenant key names another one."""
    if key.role is Role.OPERATOR:
        return [requested] if requested is not None else None
    assert key.tenant is not None  # ApiKey guarantees it for role tenant
    if requested is not None and requested != key.tenant:
        raise Problem(403, f"a tenant key sees only its own tenant ({key.tenant})")
    return [key.tenant]


def own_tenants(key: ApiKey) -> list[str] | None:
    """The tenants whose single items this key may see (None: all)."""
    return None if key.role is Role.OPERATOR else [key.tenant or ""]
