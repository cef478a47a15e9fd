"""`ozgbridge report`: the OZG status report as JSON, CSV, XLSX, a self-contained HTML page, or
a PDF summary per Kreis (printed by headless Chromium).

The database comes from ``OZGBRIDGE_DATABASE_URL``, the tenants and routes from ``--config``; the
command only reads. Output goes to ``--out`` (default: standard output).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

import click
from pydantic import ValidationError

from ozgbridge.cli_common import database_problem, fail
from ozgbridge.errors import ConfigError
from ozgbridge.logs import configure_logging
from ozgbridge.reporting import Period, Report, build_report, parse_period
from ozgbridge.reporting.build import UnknownTenantError, kreis_reports
from ozgbridge.reporting.model import DEFAULT_VIEW, VIEWS
from ozgbridge.reporting.render_flat import render_csv, render_json
from ozgbridge.reporting.render_html import render_html
from ozgbridge.reporting.render_pdf import PdfError, render_pdf
from ozgbridge.reporting.render_summary import render_summary
from ozgbridge.reporting.render_xlsx import render_xlsx
from ozgbridge.settings import Settings
from ozgbridge.store import migrate
from ozgbridge.store.engine import DATABASE_ERRORS, create_engine
from ozgbridge.tenants import load_deployment


async def _build(
    settings: Settings, period: Period, tenants: Sequence[str], *, per_kreis: bool
) -> Report | list[tuple[str, Report]]:
    # Connector options and secrets are the worker's business; a report needs tenants and routes.
    deployment = load_deployment(settings.config_dir, resolve_secrets=False, check_connectors=False)
    engine = create_engine(settings.database_url)
    try:
        current = await migrate.current_revision(engine)
        if current != migrate.head_revision():
            raise click.ClickException(
                f"database schema is {current or 'empty'}, this version needs "
                f"{migrate.head_revision()}: run `ozgbridge db upgrade` (or serve --upgrade)"
            )
        if per_kreis:
            return await kreis_reports(engine, deployment, period, list(tenants) or None)
        return await build_report(engine, deployment, period, list(tenants) or None)
    finally:
        await engine.dispose()


def _render(built: Report | list[tuple[str, Report]], fmt: str, view: str) -> bytes:
    if isinstance(built, list):
        return render_pdf(render_summary(built))
    report = built
    if fmt == "xlsx":
        return render_xlsx(report)
    if fmt == "csv":
        return render_csv(report, view)
    if fmt == "html":
        return render_html(report)
    return render_json(report)


@click.command()
@click.option(
    "--config",
    "config_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="configuration directory (tenants/, keys.yaml); default $OZGBRIDGE_CONFIG_DIR or ./config",
)
@click.option(
    "--from", "first", help="first day YYYY-MM-DD or month YYYY-MM (default: this month to date)"
)
@click.option("--to", "last", help="last day, inclusive, YYYY-MM-DD or month YYYY-MM")
@click.option("--tenant", "tenants", multiple=True, help="tenant id (repeatable); default: all")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv", "xlsx", "html", "pdf"]),
    default="json",
    show_default=True,
)
@click.option(
    "--view",
    type=click.Choice(list(VIEWS)),
    default=DEFAULT_VIEW,
    show_default=True,
    help="the view a CSV holds (XLSX has them all, one sheet each)",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=Path("-"),
    help="output file; default: standard output",
)
def report(
    *,
    config_dir: Path | None,
    first: str | None,
    last: str | None,
    tenants: tuple[str, ...],
    fmt: str,
    view: str,
    out: Path,
) -> None:
    """The OZG status report: coverage, maturity, availability, unmet demand, usage.

    pdf is a printable summary, one to three pages per Kreis, and needs Chromium."""
    try:
        settings = Settings(config_dir=config_dir) if config_dir else Settings()
        # Logs go to stderr: standard output may be the report itself.
        configure_logging(settings.log_level, settings.log_format)
        period = parse_period(first, last)
    except (ValidationError, ValueError) as exc:
        fail(str(exc))
    if fmt in ("xlsx", "pdf") and str(out) == "-" and sys.stdout.isatty():
        fail(f"{fmt.upper()} is binary: give --out FILE.{fmt}")
    try:
        built = asyncio.run(_build(settings, period, tenants, per_kreis=fmt == "pdf"))
    except (ConfigError, UnknownTenantError) as exc:
        fail(str(exc))
    except DATABASE_ERRORS as exc:
        fail(database_problem(settings, exc))
    try:
        body = _render(built, fmt, view)
    except PdfError as exc:
        fail(str(exc))
    if str(out) == "-":
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    else:
        out.write_bytes(body)
        reports = [r for _, r in built] if isinstance(built, list) else [built]
        received = sum(r.totals.received for r in reports)
        tenants_in = sum(len(r.tenants) for r in reports)
        click.echo(
            f"report {period.first} – {period.last}: {received} applications, "
            f"{tenants_in} tenants → {out}",
            err=True,
        )
