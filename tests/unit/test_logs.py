"""Log format: readable on a terminal, JSON lines for machines, chosen by `auto`."""

from __future__ import annotations

import io
import json

import structlog

from ozgbridge.logs import configure_logging, resolve_format


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_is_console_on_a_terminal_and_json_elsewhere() -> None:
    assert resolve_format("auto", Terminal()) == "console"
    assert resolve_format("auto", io.StringIO()) == "json"
    assert resolve_format("json", Terminal()) == "json"
    assert resolve_format("console", io.StringIO()) == "console"


def test_json_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    try:
        configure_logging("INFO", "auto", stream=out)
        structlog.get_logger("t").info("config.reloaded", actor="signal:SIGHUP")
    finally:
        configure_logging("INFO", "json")
    entry = json.loads(out.getvalue())
    assert (entry["event"], entry["actor"], entry["level"]) == (
        "config.reloaded",
        "signal:SIGHUP",
        "info",
    )


def test_console_lines_on_a_terminal() -> None:
    out = Terminal()
    try:
        configure_logging("INFO", "auto", stream=out)
        structlog.get_logger("t").warning("config.warning", file="x.yaml")
    finally:
        configure_logging("INFO", "json")
    text = out.getvalue()
    assert "config.warning" in text
    assert not text.lstrip().startswith("{")


def test_no_log_call_passes_a_field_named_event() -> None:
    """structlog's first argument is ``event``: a keyword of that name raises TypeError at run
    time, on the one path that logs it (found once in a FIT-Connect decision log line)."""
    import ast  # noqa: PLC0415

    from tests.conftest import REPO_ROOT  # noqa: PLC0415

    methods = {"debug", "info", "warning", "error", "exception", "critical", "msg"}
    offenders = []
    for path in [
        *(REPO_ROOT / "ozgbridge").rglob("*.py"),
        *(REPO_ROOT / "connectors").rglob("*.py"),
    ]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in methods
                and any(k.arg == "event" for k in node.keywords)
            ):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert offenders == []


def test_each_line_is_one_write_so_processes_sharing_stderr_do_not_mix_lines() -> None:
    writes: list[str] = []

    class Recording(io.StringIO):
        def write(self, text: str) -> int:
            writes.append(text)
            return super().write(text)

    configure_logging("INFO", "json", Recording())
    try:
        structlog.get_logger("test").info("one.line", n=1)
        structlog.get_logger("test").warning("another.line", n=2)
    finally:
        configure_logging("INFO", "json")
    assert [w.count("\n") for w in writes] == [1, 1]
    assert all(w.endswith("\n") for w in writes)
