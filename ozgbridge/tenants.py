"""Tenant and route configuration: loading a deployment directory, checking it, looking things up.

A deployment directory holds::

    tenants/*.yaml   one file per tenant (Behörde): region, parent, routes, delegations
    keys.yaml        API keys, as SHA-256 hashes of their tokens only

`load_deployment` reports *every* problem it finds at once, each with file, field and line, because
an operator fixing a configuration before a release should not have to run the check ten times.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import ValidationError

from ozgbridge import apikey_loading, apikeys, intake, tenant_connectors, tenant_facts, tenant_rules
from ozgbridge.apikey_models import ApiKey, PortalEvents, Role, token_sha256
from ozgbridge.configfile import Loc, YamlDocument, read_yaml
from ozgbridge.deployment import Deployment, fingerprint
from ozgbridge.domain import utcnow
from ozgbridge.errors import ConfigError, ConfigProblem
from ozgbridge.regions import Directory, default_directory
from ozgbridge.secrets import SecretResolver, resolve_options
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

TENANTS_DIR = "tenants"
KEYS_FILE = "keys.yaml"
CATALOGUE_LABEL = "KDN OZG-Datenbank NRW 2019"
# A file that cannot be parsed still probably says which tenant it is; this finds that id.
_ID_LINE = re.compile(r"^id:\s*[\"']?([a-z0-9][a-z0-9-]*)", re.MULTILINE)


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
        # A broken connector installation is the same for every tenant file: reported once.
        self.registry_broken = False
        # Gathered from the raw files, so that a broken file still has its parent checked.
        self.declared_parents: list[tuple[Path, str]] = []
        # Ids that tenant files which could not be read may hold: names other files use for
        # them are not reported as unknown (that would only repeat the file's own problem).
        self.unreadable_ids: set[str] = set()
        self.unreadable = False

    def show(self, path: Path) -> str:
        shown = self.shown.get(path)
        if shown is None:
            shown = str(self.label / path.relative_to(self.config_dir).as_posix())
            self.shown[path] = shown
        return shown

    def load(self) -> Deployment:
        if not self.config_dir.is_dir():
            raise ConfigError([ConfigProblem(str(self.config_dir), "", "is not a directory")])
        declared: list[tuple[Path, str]] = []
        tenants: list[TenantConfig] = []
        raw_tenants: list[Any] = []
        for path in self._tenant_files():
            tenant = self._load_tenant(path, declared, raw_tenants)
            if tenant is not None:
                tenants.append(tenant)
        known_ids = [tenant_id for _, tenant_id in declared] + sorted(self.unreadable_ids)
        keys_path = self.config_dir / KEYS_FILE
        keys, raw_keys = self._load_keys(keys_path)

        findings = self._findings(tenants, declared, known_ids)
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
            fingerprint=fingerprint(raw_tenants, raw_keys),
            warnings=tuple(warnings),
            documents=MappingProxyType(dict(self.documents)),
        )

    def _findings(
        self,
        tenants: list[TenantConfig],
        declared: list[tuple[Path, str]],
        known_ids: list[str],
    ) -> list[tenant_rules.Finding]:
        """Every rule relating several values; new rules go here."""
        findings = tenant_rules.check_unique_ids(declared, self.shown)
        for tenant in tenants:
            findings += tenant_rules.check_routes(tenant)
        findings += tenant_rules.check_parents_exist(self.declared_parents, known_ids)
        findings += tenant_rules.check_cycles(tenants)
        findings += tenant_rules.check_regions(tenants, self.shown)
        findings += tenant_rules.check_delegations(
            tenants,
            self.shown,
            (parent for _, parent in self.declared_parents),
            incomplete=self.unreadable,
        )
        findings += tenant_facts.check_regions(tenants, self.directory)
        findings += tenant_facts.check_delegated_regions(tenants, self.directory)
        findings += tenant_facts.check_parent_regions(tenants, self.directory)
        findings += tenant_facts.check_services_known(tenants, self.catalogue, CATALOGUE_LABEL)
        if self.limits is not None:
            findings += tenant_facts.check_timeouts(tenants, self.limits)
        return findings

    def _tenant_files(self) -> list[Path]:
        directory = self.config_dir / TENANTS_DIR
        if not directory.is_dir():
            self.problems.append(
                ConfigProblem(
                    str(self.label / TENANTS_DIR), "", "missing: one YAML file per tenant"
                )
            )
            return []
        files = []
        for path in sorted(directory.iterdir()):
            if path.name.startswith(".") or not path.is_file():
                continue
            if path.suffix == ".yaml":
                files.append(path)
            elif path.suffix == ".yml":
                self.problems.append(
                    ConfigProblem(self.show(path), "", f"not read: rename it to {path.stem}.yaml")
                )
        if not files:
            self.problems.append(
                ConfigProblem(str(self.label / TENANTS_DIR), "", "holds no tenant files (*.yaml)")
            )
        return files

    def _read(self, path: Path) -> YamlDocument | None:
        document, problems = read_yaml(path, self.show(path))
        self.problems += problems
        if document is not None:
            self.documents[path] = document
        return document

    def _load_tenant(
        self, path: Path, declared: list[tuple[Path, str]], raw_tenants: list[Any]
    ) -> TenantConfig | None:
        document = self._read(path)
        if document is None:
            self._unreadable(path)
            return None
        raw = document.data
        if not isinstance(raw, dict):
            self.problems.append(
                document.problem((), "must be a mapping of fields (id:, name:, ags:, routes:, …)")
            )
            self._unreadable(path)
            return None
        raw_tenants.append(raw)
        if isinstance(raw.get("id"), str):
            declared.append((path, raw["id"]))
        if isinstance(raw.get("parent"), str):
            self.declared_parents.append((path, raw["parent"]))
        data, skip = self._resolve_secrets(document, raw)
        if "source" in data:  # a model field, but set by the loader, never by the file
            self.problems.append(document.problem(("source",), "unknown field (set by the loader)"))
            data.pop("source")
        if "ags" not in raw and "ars" not in raw:
            self.problems.append(
                document.problem(("ags",), "the tenant's region is missing: give ags or ars")
            )
        if self.check_connectors:
            checked = tenant_connectors.check_connectors(
                document, data, skip, registry_broken=self.registry_broken, reported=self.problems
            )
            self.problems += checked.problems
            self.registry_broken = checked.registry_broken
        try:
            tenant = TenantConfig.model_validate(data)
        except ValidationError as exc:
            # The region field that was not written is derived; its errors only repeat the other's.
            def unwritten_region(loc: Loc) -> bool:
                return loc in (("ags",), ("ars",)) and loc[0] not in raw

            self.problems += document.validation_problems(exc, skip=unwritten_region)
            return None
        return tenant.model_copy(update={"source": path})

    def _unreadable(self, path: Path) -> None:
        self.unreadable = True
        self.unreadable_ids.add(path.stem)
        with contextlib.suppress(OSError, UnicodeDecodeError):
            self.unreadable_ids.update(_ID_LINE.findall(path.read_text(encoding="utf-8")))

    def _resolve_secrets(
        self, document: YamlDocument, raw: dict[str, Any]
    ) -> tuple[dict[str, Any], set[Loc]]:
        """The tenant data with route options resolved, and the option locations to not judge."""
        data = dict(raw)
        routes = raw.get("routes")
        skip: set[Loc] = set()
        if not isinstance(routes, list):
            return data, skip
        resolved_routes: list[Any] = []
        for index, route in enumerate(routes):
            options = route.get("options") if isinstance(route, dict) else None
            if not isinstance(options, dict):
                resolved_routes.append(route)
                continue
            here: Loc = ("routes", index, "options")
            result = resolve_options(options, self.resolver)
            self.problems += [document.problem((*here, *loc), m) for loc, m in result.problems]
            skip.update((*here, *loc) for loc in result.unjudgeable(self.resolver.resolve))
            resolved_routes.append({**route, "options": result.options})
        data["routes"] = resolved_routes
        return data, skip

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
