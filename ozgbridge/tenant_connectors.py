"""Checking route options against the installation: the connectors and the egress policy.

Part of `load_deployment` (`ozgbridge.tenants`), kept apart from reading the tenant files because
these checks hold a route against what is installed and allowed where the check runs — connector
plug-ins found through entry points, each with its own options model, and
OZGBRIDGE_CONNECTOR_ALLOWED_NETWORKS — rather than against the rest of the configuration
(`ozgbridge.tenant_rules`) or the directories shipped with ozgbridge (`ozgbridge.tenant_facts`).
They run on a tenant file's data before the tenant's own validation, so that every route is
checked even when the tenant has other errors, and report problems with file, field and line.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ozgbridge import connector
from ozgbridge.configfile import Loc, YamlDocument, near
from ozgbridge.egress import ENVIRONMENT_VARIABLE, EgressPolicy
from ozgbridge.errors import ConfigError, ConfigProblem


@dataclass(frozen=True)
class ConnectorChecks:
    """What `check_connectors` found: every problem, in the order found; and whether the
    installed connectors could not be loaded, which is reported once per deployment, so the
    caller hands it on to the check of the next tenant file."""

    problems: list[ConfigProblem]
    registry_broken: bool


def check_connectors(
    document: YamlDocument,
    data: dict[str, Any],
    skip: set[Loc],
    *,
    registry_broken: bool,
    reported: Collection[ConfigProblem],
) -> ConnectorChecks:
    """Check the routes in ``data`` (a tenant file's content, secrets resolved) against their
    connectors' options and the egress policy.

    Option errors near a location in ``skip`` (a value that could not be judged, such as an
    unresolved secret) are not reported.
    ``registry_broken``: a broken connector installation was reported already; ``reported``: the
    problems the deployment has already, so that one of the environment is not repeated.
    """
    problems: list[ConfigProblem] = []
    routes = data.get("routes")
    if not isinstance(routes, list):
        return ConnectorChecks(problems, registry_broken)
    for index, route in enumerate(routes):
        if not isinstance(route, dict):
            continue
        kind, options = route.get("connector"), route.get("options", {})
        if not isinstance(kind, str) or not kind or not isinstance(options, dict):
            continue
        try:
            cls = connector.connector_class(kind)
        except ConfigError as exc:
            message = "; ".join(problem.message for problem in exc.problems)
            problems.append(document.problem(("routes", index, "connector"), message))
            continue
        except Exception as exc:  # a broken plugin must not hide the rest of the report
            if not registry_broken:
                registry_broken = True
                problems.append(
                    ConfigProblem(
                        connector.ENTRY_POINT_GROUP,
                        "",
                        f"installed connectors cannot be loaded ({type(exc).__name__}: {exc});"
                        " no connector options were checked",
                    )
                )
            continue
        prefix: Loc = ("routes", index, "options")
        try:
            validated = cls.Options.model_validate(options)
        except ValidationError as exc:
            problems += document.validation_problems(
                exc, prefix=prefix, skip=functools.partial(near, skipped=skip)
            )
            continue
        # Allowed but risky options (e.g. an unencrypted transport): reported, never fatal.
        problems += [
            document.problem((*prefix, *loc), message, "warning")
            for loc, message in cls.option_warnings(validated)
        ]
        _check_egress(document, prefix, cls.destinations(validated), reported, problems)
    return ConnectorChecks(problems, registry_broken)


def _check_egress(
    document: YamlDocument,
    prefix: Loc,
    destinations: list[tuple[Loc, str]],
    reported: Collection[ConfigProblem],
    problems: list[ConfigProblem],
) -> None:
    """Hosts written as addresses outside OZGBRIDGE_CONNECTOR_ALLOWED_NETWORKS (names are
    checked after resolution, at delivery time)."""
    try:
        policy = EgressPolicy.from_environment()
    except ValueError as exc:
        problem = ConfigProblem(ENVIRONMENT_VARIABLE, "", str(exc))
        if problem not in reported and problem not in problems:
            problems.append(problem)
        return
    for loc, host in destinations:
        message = policy.literal_problem(host)
        if message is not None:
            problems.append(document.problem((*prefix, *loc), message))
