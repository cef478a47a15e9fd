"""Tenant and route configuration: loading a deployment directory, checking it, looking things up.

A deployment directory holds::

    tenants/*.yaml   one file per tenant (Behörde): region, parent, routes, delegations
    keys.yaml        API keys, as SHA-256 hashes of their tokens only

`load_deployment` reports *every* problem it finds at once, each with file, field and line, because
an operator fixing a configuration before a release should not have to run the check ten times.
Each file is read on its own (`ozgbridge.tenant_loading`, `ozgbridge.apikey_loading`); the rules
across files run here, once all are read, so that their findings can be located in the files too.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import structlog

from ozgbridge import apikey_loading, apikeys, intake, tenant_facts, tenant_loading, tenant_rules
from ozgbridge.apikey_models import ApiKey, PortalEvents, Role, token_sha256
from ozgbridge.configfile import YamlDocument
from ozgbridge.deployment import Deployment, fingerprint
from ozgbridge.domain import utcnow
from ozgbridge.errors import ConfigError, ConfigProblem
from ozgbridge.regions import Directory, default_directory
from ozgbridge.secrets import SecretResolver
from ozgbridge.tenant_facts import DeliveryLimits
from ozgbridge.tenant_models import (
    CATCH_ALL,
    CHILDREN,
    Maturity,
    Responsibility,
    RouteConfig,
    TenantConfig,
)

if TYPE_CHECKING:
    from ozgbridge.reporting.catalogue import Catalogue

__all__ = [
    "CATCH_ALL",
    "CHILDREN",
    "ApiKey",
    "DeliveryLimits",
    "Deployment",
    "Maturity",
    "PortalEvents",
    "Responsibility",
    "Role",
    "RouteConfig",
    "TenantConfig",
    "load_deployment",
    "token_sha256",
]

log = structlog.get_logger("ozgbridge.tenants")

KEYS_FILE = "keys.yaml"
CATALOGUE_LABEL = "KDN OZG-Datenbank NRW 2019"


def load_deployment(
    config_dir: Path,
    *,
    resolve_secrets: bool = True,
    check_connectors: bool = True,
    limits: DeliveryLimits | None = None,
    directory: Directory | None = None,
    catalogue: Catalogue | None = None,
) -> Deployment:
    """Load and check a deployment directory; `ConfigError` lists every problem found.

    ``resolve_secrets=False`` is for checking on a machine without the secrets: references are
    checked for syntax only and kept verbatim in the options, and connector option errors at (or
    above) an option holding a reference are not reported, since they may stem from the
    unresolved value. Such a deployment must not be used to deliver anything.
    ``check_connectors=False`` skips looking up connector kinds and validating their options.
    ``limits`` (the process's delivery timeout and lease) checks every route's timeout against
    them. Regions are checked against ``directory`` and service keys against ``catalogue``
    (default: the ones shipped with ozgbridge). Warnings end up in ``Deployment.warnings``.
    """
    # Imported here: ozgbridge.reporting builds on routing, which builds on this module.
    from ozgbridge.reporting.catalogue import default_catalogue  # noqa: PLC0415

    config_dir = Path(config_dir)
    resolver = SecretResolver(base_dir=config_dir, environ=os.environ, resolve=resolve_secrets)
    return _Loader(
        config_dir,
        resolver,
        check_connectors=check_connectors,
        limits=limits,
        directory=directory or default_directory(),
        catalogue=catalogue or default_catalogue(),
    ).load()


class _Loader:
    def __init__(
        self,
        config_dir: Path,
        resolver: SecretResolver,
        *,
        check_connectors: bool,
        limits: DeliveryLimits | None,
        directory: Directory,
        catalogue: Catalogue,
    ):
        self.config_dir = config_dir
        self.resolver = resolver
        self.check_connectors = check_connectors
        self.limits = limits
        self.directory = directory
        self.catalogue = catalogue
        self.label = PurePosixPath(config_dir.resolve().name)
        self.problems: list[ConfigProblem] = []
        self.documents: dict[Path, YamlDocument] = {}
        self.shown: dict[Path, str] = {}

    def show(self, path: Path) -> str:
        shown = self.shown.get(path)
        if shown is None:
            shown = str(self.label / path.relative_to(self.config_dir).as_posix())
            self.shown[path] = shown
        return shown

    def load(self) -> Deployment:
        if not self.config_dir.is_dir():
            raise ConfigError([ConfigProblem(str(self.config_dir), "", "is not a directory")])
        loaded = tenant_loading.load_tenants(
            self.config_dir,
            self.label,
            self.show,
            self.resolver,
            check_connectors=self.check_connectors,
        )
        self.problems += loaded.problems
        self.documents.update(loaded.documents)
        tenants = loaded.tenants
        known_ids = [tenant_id for _, tenant_id in loaded.declared] + sorted(loaded.unreadable_ids)
        keys_path = self.config_dir / KEYS_FILE
        keys, raw_keys = self._load_keys(keys_path)

        findings = self._findings(loaded, known_ids)
        findings += apikeys.check_keys(keys, known_ids, keys_path)
        findings += apikeys.expiry_findings(keys, keys_path, utcnow())
        self.problems += [self._located(finding) for finding in findings]
        if self.check_connectors:  # intake plug-ins, like connectors, come from entry points
            self.problems += intake.check_configs(self.config_dir, self.resolver)

        ordered = sorted(self.problems, key=lambda p: (p.file, p.line or 0))
        errors = [p for p in ordered if p.severity == "error"]
        warnings = [p for p in ordered if p.severity == "warning"]
        if errors:
            raise ConfigError(errors, warnings)
        for _, key in keys:
            if key.demo:
                log.warning("config.demo_key", key_id=key.id, role=str(key.role))
        return Deployment(
            config_dir=self.config_dir,
            tenants=MappingProxyType({t.id: t for t in sorted(tenants, key=lambda t: t.id)}),
            keys=tuple(key for _, key in keys),
            fingerprint=fingerprint(loaded.raw, raw_keys),
            warnings=tuple(warnings),
            documents=MappingProxyType(dict(self.documents)),
        )

    def _findings(
        self, loaded: tenant_loading.LoadedTenants, known_ids: list[str]
    ) -> list[tenant_rules.Finding]:
        """Every rule relating several values; new rules go here."""
        tenants = loaded.tenants
        findings = tenant_rules.check_unique_ids(loaded.declared, self.shown)
        for tenant in tenants:
            findings += tenant_rules.check_routes(tenant)
        findings += tenant_rules.check_parents_exist(loaded.declared_parents, known_ids)
        findings += tenant_rules.check_cycles(tenants)
        findings += tenant_rules.check_regions(tenants, self.shown)
        findings += tenant_rules.check_delegations(
            tenants,
            self.shown,
            (parent for _, parent in loaded.declared_parents),
            incomplete=loaded.unreadable,
        )
        findings += tenant_facts.check_regions(tenants, self.directory)
        findings += tenant_facts.check_delegated_regions(tenants, self.directory)
        findings += tenant_facts.check_parent_regions(tenants, self.directory)
        findings += tenant_facts.check_services_known(tenants, self.catalogue, CATALOGUE_LABEL)
        if self.limits is not None:
            findings += tenant_facts.check_timeouts(tenants, self.limits)
        return findings

    def _load_keys(self, path: Path) -> tuple[list[tuple[int, ApiKey]], Any]:
        loaded = apikey_loading.load_keys(
            path, self.show(path), self.resolver, check_events=self.check_connectors
        )
        self.problems += loaded.problems
        if loaded.document is not None:
            self.documents[path] = loaded.document
        return loaded.keys, loaded.raw

    def _located(self, finding: tenant_rules.Finding) -> ConfigProblem:
        document = self.documents[finding.source]
        loc = finding.loc
        # Rules speak of the ARS; point at the AGS line when that is what the file says.
        if loc == ("ars",) and not document.has(loc):
            loc = ("ags",)
        return document.problem(loc, finding.message, finding.severity)
