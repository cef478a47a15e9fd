"""The plug-in boundary, enforced on the source: the core (ozgbridge/) imports no connector and
names no connector or intake kind; plug-ins (connectors/) reach the database only through the
store's interface.

Kinds are whatever this distribution registers (entry points ``ozgbridge.connectors`` and
``ozgbridge.intakes``), so a new built-in is covered the day it is added. Docstrings and comments
may mention a kind as an example; code may not — no import, no identifier, no string literal.
Migration scripts are history (one moves a plug-in's old table) and are not checked.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from importlib.metadata import distribution
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "ozgbridge"
PLUGINS = ROOT / "connectors"
_GROUPS = ("ozgbridge.connectors", "ozgbridge.intakes")
# Kinds that are also ordinary protocol words: only a literal that *is* the kind counts.
_PROTOCOL_WORDS = frozenset({"http", "https", "smtp", "sftp"})
# (module, literal, why it is no kind)
_ALLOWED = {
    ("ozgbridge/api/openapi.py", "http"): "OpenAPI securityScheme type for bearer auth",
}


def builtin_kinds() -> set[str]:
    entry_points = distribution("ozgbridge").entry_points
    return {ep.name for ep in entry_points if ep.group in _GROUPS}


def core_modules() -> list[Path]:
    migrations = CORE / "store" / "migrations"
    return sorted(p for p in CORE.rglob("*.py") if migrations not in p.parents)


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the Constant nodes that are docstrings."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def imported_modules(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value


def identifiers(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, ast.Attribute):
            yield node.attr
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node.name
        elif isinstance(node, ast.arg):
            yield node.arg
        elif isinstance(node, ast.alias):
            yield node.asname or node.name
        elif isinstance(node, ast.keyword) and node.arg:
            yield node.arg


def names_kind(text: str, kind: str) -> bool:
    if kind in _PROTOCOL_WORDS:
        return text == kind
    # "fitconnect", "FIT-Connect", "fit_connect_x", "File drop": any spelling, inside words too.
    return kind in re.sub(r"[\s_-]", "", text.lower())


def test_the_built_in_kinds_are_known() -> None:
    assert {"filedrop", "http", "smtp", "sftp", "fitconnect"} <= builtin_kinds()


@pytest.mark.parametrize("path", core_modules(), ids=rel)
def test_core_module_imports_no_plugin_and_names_no_kind(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    kinds = builtin_kinds()
    skip = docstrings(tree)
    problems = [
        f"imports {module}"
        for module in imported_modules(tree)
        if module == "connectors" or module.startswith("connectors.")
    ]
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            problems += [
                f"line {node.lineno}: string {node.value!r} names kind {kind!r}"
                for kind in kinds
                if names_kind(node.value, kind) and (rel(path), node.value) not in _ALLOWED
            ]
    problems += [
        f"identifier {name!r} names kind {kind!r}"
        for name in set(identifiers(tree))
        for kind in kinds - _PROTOCOL_WORDS
        if names_kind(name, kind)
    ]

    assert problems == [], rel(path)


def test_core_templates_name_no_kind() -> None:
    kinds = builtin_kinds() - _PROTOCOL_WORDS
    for path in sorted(CORE.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        assert [k for k in kinds if names_kind(text, k)] == [], rel(path)


@pytest.mark.parametrize("path", sorted(PLUGINS.rglob("*.py")), ids=rel)
def test_plugins_use_the_store_interface_never_sql(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

    sql = [
        module
        for module in imported_modules(tree)
        if module.split(".")[0] == "sqlalchemy"
        or module in ("ozgbridge.store.tables", "ozgbridge.store.engine")
    ]
    engines = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "engine"
    ]

    assert (sql, engines) == ([], []), rel(path)


def test_the_checks_catch_what_they_are_for() -> None:
    bad = ast.parse(
        "import connectors.http\n"
        "from ozgbridge.store.tables import deliveries\n"
        "fitconnect_submissions = 1\n"
        "x = deliveries.c.connector == 'FileDrop'\n"
    )

    assert list(imported_modules(bad)) == ["connectors.http", "ozgbridge.store.tables"]
    assert names_kind("fitconnect_submissions", "fitconnect")
    assert names_kind("no FIT-Connect intake", "fitconnect")
    assert names_kind("FileDrop", "filedrop")
    assert names_kind("File drop", "filedrop")
    assert names_kind("http", "http")
    assert not names_kind("http.request", "http")
    assert not names_kind("HTTP ", "http")
