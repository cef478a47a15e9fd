"""`ozgbridge connectors list`: the installed connector kinds and their options.

Options are shown from each kind's pydantic ``Options`` model as JSON Schema: in full with
``--format json`` (for tools and editors), summarised as a table otherwise. A kind whose package
is installed but cannot be loaded is listed with the reason, and the command exits 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ozgbridge.connector_registry import (
    ENTRY_POINT_GROUP,
    InstalledConnector,
    connector_class,
    installed_connectors,
)
from ozgbridge.errors import ConfigError

out = Console()
err = Console(stderr=True)


@dataclass(frozen=True)
class Listed:
    installed: InstalledConnector
    schema: dict[str, Any] | None
    error: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.installed.kind,
            "class": self.installed.target,
            "distribution": self.installed.distribution,
            "version": self.installed.version,
            "options": self.schema,
            "error": self.error,
        }


def _listed(installed: InstalledConnector) -> Listed:
    try:
        options = connector_class(installed.kind).Options
    except ConfigError as exc:
        return Listed(installed, None, str(exc))
    try:
        return Listed(installed, options.model_json_schema(), None)
    except Exception as exc:  # a plug-in's model pydantic cannot describe
        return Listed(installed, None, f"options have no JSON Schema ({type(exc).__name__}: {exc})")


def type_of(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    """A short, readable type for one property's JSON Schema (``string | null``, ``secret``…)."""
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return f"object ({name})" if name in defs else name
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return " | ".join(type_of(part, defs) for part in schema[combinator])
    if "enum" in schema:
        return " | ".join(json.dumps(value) for value in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    kind = schema.get("type", "any")
    if schema.get("format") == "password":
        return "secret"
    if kind == "array":
        return f"list of {type_of(schema.get('items', {}), defs)}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map of {type_of(schema['additionalProperties'], defs)}"
    fmt = schema.get("format")
    return f"{kind} ({fmt})" if fmt else str(kind)


def _summary(description: str | None) -> str:
    first = (description or "").strip().split("\n\n", 1)[0]
    return " ".join(first.split())


def _table(listed: Listed) -> Table:
    schema = listed.schema or {}
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    table = Table(show_edge=False, pad_edge=False, expand=False)
    table.add_column("option", no_wrap=True)
    table.add_column("type")
    table.add_column("required / default")
    for name, prop in schema.get("properties", {}).items():
        if name in required:
            default = "required"
        else:
            default = json.dumps(prop["default"]) if "default" in prop else "optional"
        detail = prop.get("description")
        shown_type = type_of(prop, defs) + (f" — {detail}" if detail else "")
        table.add_row(escape(name), escape(shown_type), escape(default))
    return table


def _print_tables(listed: list[Listed]) -> None:
    for item in listed:
        installed = item.installed
        origin = (
            f"{installed.distribution} {installed.version}"
            if installed.distribution
            else "unknown distribution"
        )
        out.print(
            f"[bold]{escape(installed.kind)}[/bold]  {escape(origin)}  "
            f"[dim]{escape(installed.target)}[/dim]",
            highlight=False,
            soft_wrap=True,
        )
        if item.error is not None:
            out.print(f"  [red]✗ {escape(item.error)}[/red]", highlight=False, soft_wrap=True)
        else:
            summary = _summary((item.schema or {}).get("description"))
            if summary:
                out.print(f"  {escape(summary)}", highlight=False, soft_wrap=True)
            out.print(_table(item))
        out.print()


@click.group()
def connectors() -> None:
    """Installed connector kinds."""


@connectors.command("list")
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json: every kind with the full JSON Schema of its options",
)
def connectors_list(output: str) -> None:
    """Every connector kind installed (entry points in ozgbridge.connectors) and its options."""
    listed = [_listed(installed) for installed in installed_connectors()]
    if output == "json":
        click.echo(json.dumps({"connectors": [item.as_json() for item in listed]}, indent=2))
    elif not listed:
        err.print(f"no connector kinds installed (entry point group {ENTRY_POINT_GROUP})")
    else:
        _print_tables(listed)
    if any(item.error is not None for item in listed):
        raise SystemExit(1)
