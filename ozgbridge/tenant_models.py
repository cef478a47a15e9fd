"""The models of a deployment's tenant files: tenants (Behörden), routes, delegations.

Import them from `ozgbridge.tenants`, which also loads them. The models check each value on its
own; rules relating several values (unique ids, parents, overlapping delegations) live in
`ozgbridge.tenant_rules` and run when a deployment is loaded. The models of ``keys.yaml`` are in
`ozgbridge.apikey_models`, the loaded whole with its lookups in `ozgbridge.deployment`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PlainValidator,
    PositiveFloat,
    PrivateAttr,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from ozgbridge.configfile import FieldValueError
from ozgbridge.domain import AGS, ARS, LeikaKey, ags_from_ars, ars_from_ags, is_leika_key

CATCH_ALL = "*"
CHILDREN = "children"

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
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


Slug = Annotated[str, AfterValidator(_slug)]
ServiceSelector = Annotated[str, AfterValidator(_service_selector)]
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


class ConfigModel(BaseModel):
    """The base of every configuration file model (here and in `ozgbridge.apikey_models`)."""

    # Unknown keys are typos, and a typo in a configuration file must not pass silently.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Maturity(ConfigModel):
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


class Retention(ConfigModel):
    """How many days a finished application's content is kept; 0 = purge as soon as possible.

    A field left out falls back to the tenant's, then to the process settings
    (``OZGBRIDGE_RETENTION_DELIVERED_DAYS`` / ``_DEAD_DAYS``). Metadata is kept regardless.
    """

    delivered_days: NonNegativeInt | None = Field(default=None, le=3650)
    dead_days: NonNegativeInt | None = Field(default=None, le=3650)


class BreakerConfig(ConfigModel):
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


class RouteConfig(ConfigModel):
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


class Responsibility(ConfigModel):
    """Delegated responsibility (Zuständigkeit): this tenant handles ``services`` for ``regions``.

    ``regions`` is ``"children"`` (the regions of the tenants naming this one as parent) or a list
    of AGS/ARS, which may name regions that have no tenant of their own.
    """

    services: list[LeikaKey] = Field(min_length=1)
    regions: Regions


class TenantConfig(ConfigModel):
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
