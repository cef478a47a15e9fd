"""A loaded, checked deployment and its lookups: tenant, route, children, key by token hash.

Import it from `ozgbridge.tenants`, which builds it (`load_deployment`). The models it holds
(`ozgbridge.tenant_models`, `ozgbridge.apikey_models`) are what a file may say; this is what the
running process asks of all of them together, indexed once because it asks per request.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ozgbridge.apikey_models import ApiKey
from ozgbridge.configfile import Loc, YamlDocument
from ozgbridge.errors import ConfigProblem
from ozgbridge.tenant_models import RouteConfig, TenantConfig


@dataclass(frozen=True)
class Deployment:
    """A loaded, checked configuration: tenants by id (sorted), API keys, and a fingerprint.

    ``fingerprint`` is the SHA-256 of the canonical, *unresolved* content (secret references, not
    their values), so it can go into the audit log and changes only when the configuration does.
    ``warnings`` are what the checks found worth a look; ``documents`` the parsed files, so that
    checks after loading (`problem`) can still name file and line.
    """

    config_dir: Path
    tenants: Mapping[str, TenantConfig]
    keys: Sequence[ApiKey]
    fingerprint: str
    # What the checks found worth a look (risky connector options, unknown LeiKa keys, …):
    # reported, never fatal.
    warnings: Sequence[ConfigProblem] = ()
    documents: Mapping[Path, YamlDocument] = field(default_factory=dict, repr=False, compare=False)
    _children: Mapping[str, list[TenantConfig]] = field(init=False, repr=False, compare=False)
    _routes: Mapping[tuple[str, str], RouteConfig] = field(init=False, repr=False, compare=False)
    _keys_by_hash: Mapping[str, ApiKey] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        children: dict[str, list[TenantConfig]] = defaultdict(list)
        for tenant in sorted(self.tenants.values(), key=lambda t: t.id):
            if tenant.parent is not None:
                children[tenant.parent].append(tenant)
        routes = {
            (tenant.id, route.id): route
            for tenant in self.tenants.values()
            for route in tenant.routes
        }
        # Lookups run per request (keys) and per delivery (routes): index them once.
        object.__setattr__(self, "_children", dict(children))
        object.__setattr__(self, "_routes", routes)
        object.__setattr__(self, "_keys_by_hash", {h: key for key in self.keys for h in key.hashes})

    def problem(self, source: Path, loc: Loc, message: str) -> ConfigProblem:
        """An error located in one of the deployment's files (by field path, at its line)."""
        document = self.documents.get(source)
        if document is None:
            return ConfigProblem(str(source), "", message)
        return document.problem(loc, message)

    def tenant(self, tenant_id: str) -> TenantConfig:
        """The tenant ``tenant_id``; KeyError if there is none."""
        return self.tenants[tenant_id]

    def route(self, tenant_id: str, route_id: str) -> RouteConfig:
        """Route ``route_id`` of tenant ``tenant_id``; KeyError if there is none."""
        try:
            return self._routes[(tenant_id, route_id)]
        except KeyError:
            raise KeyError(f"no route {route_id!r} for tenant {tenant_id!r}") from None

    def children(self, tenant_id: str) -> list[TenantConfig]:
        """The tenants whose parent is ``tenant_id``, by id; KeyError for an unknown tenant."""
        if tenant_id not in self.tenants:
            raise KeyError(tenant_id)
        return list(self._children.get(tenant_id, ()))

    def key_by_hash(self, sha256_hex: str) -> ApiKey | None:
        """The key whose token hashes to ``sha256_hex`` (see `token_sha256`), if any.

        A pure lookup: warning about the use of a demo key is the caller's (the API's) business,
        which can do it once per key instead of once per request.
        """
        return self._keys_by_hash.get(sha256_hex.lower())


def fingerprint(raw_tenants: list[Any], raw_keys: Any) -> str:
    """What a reload compares: the configuration as written, independent of file names and order."""

    def canonical(value: Any) -> str:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        )

    # Sorted documents: file names and file order do not change what the deployment does.
    content = canonical(
        {"tenants": sorted(canonical(raw) for raw in raw_tenants), "keys": raw_keys}
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()
