"""Every log event and audit action the README names exists in the code, under that name."""

from __future__ import annotations

import ast
import re

from ozgbridge.events.model import EventType
from tests.conftest import REPO_ROOT

LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical"}
# Backticked dotted names that are files, not events.
FILE_SUFFIXES = {
    "yaml", "yml", "json", "md", "py", "csv", "txt", "html", "xlsx", "pem", "jwk", "service",
    "sqlite3", "asc", "zip", "ini", "toml", "cs", "java", "php",
}  # fmt: skip


def emitted() -> set[str]:
    """Event names logged (first argument of a log call) and audit actions in the code; an
    f-string name (``f"fitconnect.submission_{state}"``) becomes a pattern (``…_*``)."""
    names: set[str] = set()
    sources = [*(REPO_ROOT / "ozgbridge").rglob("*.py"), *(REPO_ROOT / "connectors").rglob("*.py")]
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            candidates: list[ast.expr] = []
            if isinstance(node.func, ast.Attribute) and node.func.attr in LOG_METHODS:
                candidates += node.args[:1]
            if isinstance(node.func, ast.Name | ast.Attribute):
                called = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
                if called == "AuditEvent":
                    candidates += node.args[1:2]
                if called in ("AuditEvent", "_audit", "reload"):
                    candidates += [k.value for k in node.keywords if k.arg == "action"]
                if called == "_audit":
                    candidates += node.args[1:2]
                if called == "_failed":  # the worker's log call for a failed claim or poll
                    candidates += node.args[:1]
            for candidate in candidates:
                if isinstance(candidate, ast.Constant) and isinstance(candidate.value, str):
                    names.add(candidate.value)
                elif isinstance(candidate, ast.JoinedStr):
                    names.add(
                        "".join(
                            part.value if isinstance(part, ast.Constant) else "*"
                            for part in candidate.values
                        )
                    )
    return {name for name in names if "." in name}


def exists(name: str, events: set[str]) -> bool:
    return any(re.fullmatch(re.escape(e).replace(r"\*", "[a-z_]+"), name) for e in events)


def named_in_readme(areas: set[str]) -> set[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    found = set()
    for token in re.findall(r"`([a-z][a-z_]*\.[a-z][a-z_.]*)`", text):
        if token.rsplit(".", 1)[-1] in FILE_SUFFIXES:
            continue
        if token.split(".", 1)[0] in areas:
            found.add(token)
    return found


def test_readme_event_names_exist_in_the_code() -> None:
    events = emitted()
    assert {"http.request", "delivery.attempt", "config.reloaded", "auth.demo_key_used"} <= events
    areas = {name.split(".", 1)[0] for name in events}
    named = named_in_readme(areas)
    assert len(named) >= 10, "the README should list the events operators watch"
    # The portal event types (application.delivered, …) are names in the code too, as EventType.
    portal_events = {str(kind) for kind in EventType}
    assert sorted(n for n in named if not exists(n, events) and n not in portal_events) == []
