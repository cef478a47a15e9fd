"""The models of a deployment's configuration: tenants (Behörden), routes, delegations, keys.

Import them from `ozgbridge.tenants`, which also loads them. The models check each value on its
own; rules relating several values (unique ids, parents, overlapping delegations) live in
`ozgbridge.tenant_rules` and run when a deployment is loaded.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    NonNegativeFloat,
    NonNegativeInt,
    PlainValidator,
    PositiveFloat,
    PrivateAttr,
    SecretStr,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from ozgbridge.configfile import FieldValueError, Loc, YamlDocument
from ozgbridge.domain import AGS, ARS, LeikaKey, ags_from_ars, ars_from_ags, is_leika_key
from ozgbridge.errors import ConfigProblem

CATCH_ALL = "*"
CHILDREN = "children"

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_AGS_OR_ARS = re.compile(r"\d{8}|\d{12}")
_MATURITY_MAX_LEVEL = {"1.1": 4, "2.0": 7}


def _slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise ValueError(f"{value!r} is not a slug (lowercase letters, digits and inner '-')")
    return value


def _service_selector(value: str) -> str:
    if value != CATCH_ALL and not is_leika_key(value):
        raise ValueError(f"{value!r} is neither a LeiKa key (14 digits starting with 99) nor '*'")
    return value


def _sha256_hex(value: str) -> str:
    if not _SHA256_HEX.fullmatch(value):
        raise ValueError("must be a SHA-256 hash: 64 lowercase hexadecimal digits")
    return value


def _regions(value: Any) -> Literal["children"] | list[str]:
    if value == CHILDREN:
        return "children"
    if not isinstance(value, list) or not value:
        raise ValueError(
            "must be 'children' or a non-empty list of AGS (8 digits) / ARS (12 digits)"
        )
    seen: set[str] = set()
    for index, region in enumerate(value):
        if not isinstance(region, str):
            raise FieldValueError(
                "must be text: put the AGS/ARS in quotes (YAML reads digits as a number)", index
            )
        if not _AGS_OR_ARS.fullmatch(region):
            raise FieldValueError(f"{region!r} is neither an AGS (8 digits) nor an ARS (12)", index)
        if region in seen:
            raise FieldValueError(f"region {region} is listed twice", index)
        seen.add(region)
    return list(value)


def _expiry(value: Any) -> Any:
    # YAML reads 2026-12-31 as a date: the key stops working when that day begins (UTC).
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError(
            "give a time zone, e.g. 2026-12-31T00:00:00Z or 2026-12-31T00:00:00+01:00, or a date"
        )
    return value


Slug = Annotated[str, AfterValidator(_slug)]
Expiry = Annotated[AwareDatetime, BeforeValidator(_expiry)]
ServiceSelector = Annotated[str, AfterValidator(_service_selector)]
Sha256Hex = Annotated[str, AfterValidator(_sha256_hex)]
Regions = Annotated[
    Literal["children"] | list[str],
    PlainValidator(_regions),
    WithJsonSchema(
        {
            "oneOf": [
                {"const": CHILDREN},
                {"type": "array", "items": {"type": "string", "pattern": "^([0-9]{8}|[0-9]{12})$"}},
            ]
        }
    ),
]


class _Model(BaseModel):
    # Unknown keys are typos, and a typo in a routing file must not pass silently.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Maturity(_Model):
    """The OZG maturity level (Reifegrad) of a service online, with the model it is measured in."""

    model: Literal["1.1", "2.0"]
    level: int = Field(ge=0)

    @field_validator("model", mode="before")
    @classmethod
    def _model_as_text(cls, value: Any) -> Any:
        # `model: 1.1` unquoted is a float in YAML; accept it rather than demand quotes.
        return f"{value:.1f}" if isinstance(value, float) else value

    @model_validator(mode="after")
    def _level_in_model(self) -> Maturity:
        highest = _MATURITY_MAX_LEVEL[self.model]
        if self.level > highest:
            raise FieldValueError(
                f"level {self.level} does not exist in maturity model {self.model} (0–{highest})",
                "level",
            )
        return self


class Retention(_Model):
    """How many days a finished application's content is kept; 0 = purge as soon as possible.

    A field left out falls back to the tenant's, then to the process settings
    (``OZGBRIDGE_RETENTION_DELIVERED_DAYS`` / ``_DEAD_DAYS``). Metadata is kept regardless.
    """

    delivered_days: NonNegativeInt | None = Field(default=None, le=3650)
    dead_days: NonNegativeInt | None = Field(default=None, le=3650)


class BreakerConfig(_Model):
    """The route's circuit breaker: after ``failures`` consecutive retriable failures the route
    opens for ``cooldown`` seconds (doubling after each failed probe, up to ``max_cooldown``)."""

    failures: int = Field(default=5, ge=1, le=1000)
    cooldown: PositiveFloat = 30.0
    max_cooldown: PositiveFloat = 600.0

    @model_validator(mode="after")
    def _max_not_below_cooldown(self) -> BreakerConfig:
        if self.max_cooldown < self.cooldown:
            raise FieldValueError(
                f"max_cooldown ({self.max_cooldown:g}) must not be below cooldown "
                f"({self.cooldown:g})",
                "max_cooldown",
            )
        return self


class RouteConfig(_Model):
    """Which services of a tenant go to which connector, with which options.

    ``services`` lists LeiKa keys, or is ``["*"]`` for every service no other route of the tenant
    takes. ``options`` hold resolved secrets: the field is kept out of ``repr`` for that reason.
    """

    id: Slug
    services: list[ServiceSelector] = Field(min_length=1)
    connector: str = Field(min_length=1)
    options: dict[str, Any] = Field(default_factory=dict, repr=False)
    maturity: Maturity | None = None
    retry_schedule: list[NonNegativeFloat] | None = Field(default=None, min_length=1)
    timeout: PositiveFloat | None = None
    retention: Retention | None = None
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    # Across all workers: attempts in flight at once, and attempts started per second.
    max_in_flight: int | None = Field(default=None, ge=1, le=10_000)
    rate_limit: PositiveFloat | None = None

    _keys: frozenset[str] = PrivateAttr(default=frozenset())

    @field_validator("services")
    @classmethod
    def _services_well_formed(cls, services: list[str]) -> list[str]:
        seen: set[str] = set()
        for index, service in enumerate(services):
            if service == CATCH_ALL and len(services) > 1:
                raise FieldValueError(
                    "'*' must stand alone: a catch-all route takes every other service", index
                )
            if service in seen:
                raise FieldValueError(f"service {service} is listed twice", index)
            seen.add(service)
        return services

    def model_post_init(self, context: Any, /) -> None:
        # matches() runs for every submission; a set lookup keeps it O(1).
        self._keys = frozenset(self.services) - {CATCH_ALL}

    @property
    def is_catch_all(self) -> bool:
        return not self._keys

    def matches(self, leika_key: str) -> bool:
        return leika_key in self._keys or not self._keys


class Responsibility(_Model):
    """Delegated responsibility (Zuständigkeit): this tenant handles ``services`` for ``regions``.

    ``regions`` is ``"children"`` (the regions of the tenants naming this one as parent) or a list
    of AGS/ARS, which may name regions that have no tenant of their own.
    """

    services: list[LeikaKey] = Field(min_length=1)
    regions: Regions


class TenantConfig(_Model):
    """One authority (Behörde) that receives applications: a town, a Kreis, a kreisfreie Stadt.

    Configure the region by ``ags`` or ``ars``; the other is derived (``ars`` by the NRW rule). If
    both are given they must name the same municipality.
    """

    id: Slug
    name: str = Field(min_length=1)
    ags: AGS
    ars: ARS
    parent: Slug | None = None
    routes: list[RouteConfig] = Field(default_factory=list)
    responsible_for: list[Responsibility] = Field(default_factory=list)
    retention: Retention | None = None
    # Where the tenant was read from, for messages; never part of dumps or the schema.
    source: SkipJsonSchema[Path] = Field(default=Path("<inline>"), exclude=True, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _derive_region(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        ags, ars = data.get("ags"), data.get("ars")
        # Only derive from a well-formed value; a malformed one gets its own error below.
        if ars is None and isinstance(ags, str) and re.fullmatch(r"\d{8}", ags):
            return {**data, "ars": ars_from_ags(ags)}
        if ags is None and isinstance(ars, str) and re.fullmatch(r"\d{12}", ars):
            return {**data, "ags": ags_from_ars(ars)}
        return data

    @model_validator(mode="after")
    def _region_consistent(self) -> TenantConfig:
        if ags_from_ars(self.ars) != self.ags:
            raise FieldValueError(
                f"ars {self.ars} names municipality {ags_from_ars(self.ars)}, "
                f"but ags is {self.ags}: give one of them, or two that agree",
                "ars",
            )
        return self


class Role(StrEnum):
    """What an API key may do: submit (portal), see its own tenant, see reports, operate, or
    only read the Prometheus metrics (metrics)."""

    PORTAL = "portal"
    TENANT = "tenant"
    COORDINATOR = "coordinator"
    OPERATOR = "operator"
    METRICS = "metrics"


class PreviousToken(_Model):
    """A key's replaced token (see ``ozgbridge keys rotate``): works until ``expires``."""

    sha256: Sha256Hex
    expires: Expiry


class PortalEvents(_Model):
    """Where a portal key's events go: POSTed as JSON, signed per Standard Webhooks.

    The options mean what the ``http`` connector's options of the same name mean (and are
    checked by it when the configuration loads); ``signing_secret`` must be a reference.
    """

    # Validation errors must not quote a secret back into logs and CLI output.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: HttpUrl
    signing_secret: SecretStr | list[SecretStr]
    verify_tls: bool = True
    ca_file: Path | None = None
    # As for a route: the wait before each attempt (default: the Standard Webhooks ladder) and
    # the seconds an attempt may take (default: OZGBRIDGE_DELIVERY_TIMEOUT).
    retry_schedule: list[NonNegativeFloat] | None = Field(default=None, min_length=1)
    timeout: PositiveFloat | None = None

    def connector_options(self) -> dict[str, Any]:
        """These settings as ``http`` connector options (secrets revealed: handle with care)."""
        secrets = (
            self.signing_secret if isinstance(self.signing_secret, list) else [self.signing_secret]
        )
        options: dict[str, Any] = {
            "url": str(self.url),
            "signing_secret": [s.get_secret_value() for s in secrets],
            "verify_tls": self.verify_tls,
        }
        if self.ca_file is not None:
            options["ca_file"] = self.ca_file
        return options


class ApiKey(_Model):
    """An API key, stored only as the SHA-256 of its token. ``demo`` keys are logged when used.

    ``expires`` ends the key (a date: at 00:00 UTC that day); ``previous`` holds tokens replaced
    by a rotation, each working until its own ``expires`` (and never past the key's).
    A portal key may carry ``events``: ozgbridge then sends it events about the applications it
    submits (see ozgbridge.events).
    """

    id: Slug
    role: Role
    tenant: Slug | None = None
    sha256: Sha256Hex
    demo: bool = False
    expires: Expiry | None = None
    previous: list[PreviousToken] = Field(default_factory=list)

    @property
    def hashes(self) -> tuple[str, ...]:
        """Every token hash that authenticates as this key: the current one first."""
        return (self.sha256, *(p.sha256 for p in self.previous))

    def token_expires(self, sha256_hex: str) -> datetime | None:
        """When the token hashing to ``sha256_hex`` stops working (None: it does not expire)."""
        if sha256_hex == self.sha256:
            return self.expires
        for previous in self.previous:
            if previous.sha256 == sha256_hex:
                if self.expires is None:
                    return previous.expires
                return min(previous.expires, self.expires)
        return None

    events: PortalEvents | None = None

    @model_validator(mode="after")
    def _events_only_for_portals(self) -> ApiKey:
        if self.events is not None and self.role is not Role.PORTAL:
            raise FieldValueError(
                f"only portal keys receive events (this one is {self.role})", "events"
            )
        return self

    @model_validator(mode="after")
    def _tenant_matches_role(self) -> ApiKey:
        if self.role is Role.TENANT and self.tenant is None:
            raise FieldValueError("a key with role 'tenant' must name its tenant", "tenant")
        if self.role is not Role.TENANT and self.tenant is not None:
            raise FieldValueError(
                f"only keys with role 'tenant' belong to a tenant (this one is {self.role})",
                "tenant",
            )
        return self


def token_sha256(token: str) -> str:
    """The hash under which an API key's token is stored in ``keys.yaml``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


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
