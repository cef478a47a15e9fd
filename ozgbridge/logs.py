"""structlog configuration: JSON lines or a console renderer for humans, stable event names.

Events are named ``area.what`` (``delivery.attempt``, ``http.request``) and carry ids, keys,
states, sizes and hashes only — never names, addresses or form content. The README's event names
are checked against the code by a test.

Format ``auto`` (the default) writes for whoever reads: the console renderer when standard error
is a terminal, JSON lines otherwise (a container runtime, systemd's journal, a file).
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

FORMATS = ("auto", "json", "console")


def resolve_format(fmt: str, stream: TextIO) -> str:
    """``auto`` → ``console`` on a terminal, ``json`` elsewhere; other values as given."""
    if fmt != "auto":
        return fmt
    isatty = getattr(stream, "isatty", None)
    return "console" if isatty is not None and isatty() else "json"


def configure_logging(
    level: str = "INFO", fmt: str = "auto", stream: TextIO | None = None, *, cache: bool = False
) -> None:
    """``cache``: each logger resolves its configuration once, at its first use — for a
    long-running service, where that lookup on every call cost ~2 % of an API process's
    instructions per application. structlog's ``capture_logs`` (tests) cannot see loggers
    cached before it, so commands and in-process tests leave it off."""
    out = stream if stream is not None else sys.stderr
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    resolved = resolve_format(fmt, out)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if resolved == "json"
        else structlog.dev.ConsoleRenderer(colors=getattr(out, "isatty", lambda: False)())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # One write per line (the line and its newline together): the processes of an
        # `api --processes` group share one stderr, and print() wrote the newline separately,
        # so two processes' lines could run into one.
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=cache,
    )
    # Libraries log through stdlib logging; keep their noise out unless it is a warning.
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=out, format="%(message)s")
