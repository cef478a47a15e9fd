"""``ozgbridge config validate`` and ``ozgbridge config coverage``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
from pydantic import ValidationError

from ozgbridge import audit_keys, runtime
from ozgbridge.cli_common import err, out, settings_problems, show
from ozgbridge.dataprotection import keys as data_keys
from ozgbridge.errors import ConfigError, ConfigProblem, DataProtectionError
from ozgbridge.gaps import KreisGaps, find_gaps, read_services
from ozgbridge.regions import default_directory
from ozgbridge.settings import Settings
from ozgbridge.tenants import Deployment, load_deployment


@click.group()
def config() -> None:
    """Configuration checks."""


def _check(directory: Path) -> tuple[Deployment | None, list[ConfigProblem], list[ConfigProblem]]:
    """Everything ``serve`` would check before starting, in the same code: the settings from
    the environment, the files, then building router, connectors and intakes."""
    problems: list[ConfigProblem] = []
    settings: Settings | None = None
    try:
        settings = Settings(config_dir=directory)
    except ValidationError as exc:
        problems += settings_problems(exc)
    else:
        problems += _key_file_problems(settings)
    try:
        deployment = load_deployment(
            directory, limits=runtime.limits(settings) if settings is not None else None
        )
        if settings is not None:
            asyncio.run(runtime.check(deployment, settings))
    except ConfigError as exc:
        return None, problems + exc.problems, exc.warnings
    return deployment, problems, list(deployment.warnings)


def _key_file_problems(settings: Settings) -> list[ConfigProblem]:
    """The data and audit key files the settings name, read as start-up and a reload read them
    (so a rotated key file can be checked before the SIGHUP)."""
    problems = []
    for path, load in (
        (settings.data_keys, data_keys.load),
        (settings.audit_key, audit_keys.load),
    ):
        if path is None:
            continue
        try:
            load(path)
        except (ConfigError, DataProtectionError) as exc:  # AuditKeyError, DataKeyError
            problems.append(ConfigProblem(str(path), "", str(exc)))
    return problems


@config.command("validate")
@click.argument("directory", type=click.Path(path_type=Path))
def config_validate(directory: Path) -> None:
    """Check tenants, routes, connector options, responsibilities and keys — against the
    official municipality directory, the LeiKa catalogue and this process's settings
    (OZGBRIDGE_*) — exactly as serve would; exit 1 on errors (warnings do not fail)."""
    deployment, problems, warnings = _check(directory)
    for problem in sorted([*problems, *warnings], key=lambda p: (p.file, p.line or 0)):
        show(problem)
    source = default_directory().source
    regions = (
        f"regions checked against the Gemeindeverzeichnis (GV-ISys, Gebietsstand "
        f"{source.gebietsstand:%d.%m.%Y}; Länder {', '.join(sorted(source.states))})"
    )
    if problems or deployment is None:
        err.print(
            f"{len(problems)} problem(s), {len(warnings)} warning(s) in {directory}; {regions}",
            highlight=False,
            soft_wrap=True,
        )
        raise SystemExit(1)
    routes = sum(len(t.routes) for t in deployment.tenants.values())
    note = f", {len(warnings)} warning(s)" if warnings else ""
    out.print(
        f"[green]✓[/green] {directory}: {len(deployment.tenants)} tenants, {routes} routes, "
        f"{len(deployment.keys)} keys — valid{note}; {regions}",
        highlight=False,
        soft_wrap=True,
    )


@config.command("coverage")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--services",
    "services_file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="the services every municipality should offer: one LeiKa key per line",
)
@click.option(
    "--kreis",
    "kreise",
    multiple=True,
    help="a Kreis (5-digit key or tenant id); repeatable; default: every Kreis with a tenant",
)
@click.option("--json", "as_json", is_flag=True, help="one JSON document")
def config_coverage(
    directory: Path, services_file: Path, kreise: tuple[str, ...], as_json: bool
) -> None:
    """For each municipality of a Kreis, the listed services nobody routes; exit 1 on a gap.

    Municipalities come from the official directory, so towns without a tenant of their own are
    checked too.
    """
    try:
        services = read_services(services_file)
        deployment = load_deployment(directory, resolve_secrets=False, check_connectors=False)
    except ConfigError as exc:
        for problem in exc.problems:
            show(problem)
        raise SystemExit(2) from exc
    selected = None
    if kreise:
        selected = []
        for kreis in kreise:
            tenant = deployment.tenants.get(kreis)
            key = tenant.ars[:5] if tenant is not None else kreis
            if not (len(key) == 5 and key.isdigit()):
                err.print(f"[red]error[/red]: --kreis {kreis!r}: neither a tenant nor 5 digits")
                raise SystemExit(2)
            selected.append(key)
    found = find_gaps(deployment, default_directory(), services, selected)
    gaps = sum(kreis.gaps for kreis in found)
    if as_json:
        click.echo(json.dumps(_json(found, services), indent=2, ensure_ascii=False))
    else:
        _print(found, services)
    if gaps:
        raise SystemExit(1)


def _service_names(services: list[str]) -> dict[str, str]:
    from ozgbridge.reporting.catalogue import default_catalogue  # noqa: PLC0415 - heavy import

    catalogue = default_catalogue()
    return {key: catalogue.service(key).name for key in services}


def _print(found: list[KreisGaps], services: list[str]) -> None:
    names = _service_names(services)
    total = 0
    for kreis in found:
        served = f" — tenant {kreis.tenant_id}" if kreis.tenant_id else " — no tenant"
        scope = "" if kreis.from_directory else " (not in the shipped directory: tenants only)"
        out.print(
            f"Kreis {kreis.kreis} ({kreis.name}){served}; {len(kreis.municipalities)} "
            f"municipalities × {len(services)} services{scope}",
            highlight=False,
        )
        for gaps in kreis.municipalities:
            place = gaps.municipality
            who = f" ({place.tenant_id})" if place.tenant_id else ""
            if not gaps.unrouted:
                out.print(f"  [green]✓[/green] {place.ags} {place.name}{who}", highlight=False)
                continue
            total += len(gaps.unrouted)
            out.print(
                f"  [red]✗[/red] {place.ags} {place.name}{who}: {len(gaps.unrouted)} of "
                f"{len(services)} not routed",
                highlight=False,
            )
            for service in gaps.unrouted:
                out.print(f"      {service} {names[service]}", highlight=False)
    municipalities = sum(len(k.municipalities) for k in found)
    summary = f"{total} gap(s) in {municipalities} municipalities of {len(found)} Kreis(e)"
    (err if total else out).print(summary, highlight=False)


def _json(found: list[KreisGaps], services: list[str]) -> dict[str, object]:
    names = _service_names(services)
    return {
        "services": [{"leikaKey": s, "name": names[s]} for s in services],
        "kreise": [
            {
                "kreis": k.kreis,
                "name": k.name,
                "tenant": k.tenant_id,
                "fromDirectory": k.from_directory,
                "municipalities": [
                    {
                        "ags": m.municipality.ags,
                        "ars": m.municipality.ars,
                        "name": m.municipality.name,
                        "tenant": m.municipality.tenant_id,
                        "unrouted": m.unrouted,
                    }
                    for m in k.municipalities
                ],
            }
            for k in found
        ],
        "gaps": sum(k.gaps for k in found),
    }
