"""PDF: the printable summary, printed by headless Chromium (no other PDF engine to install).

Chromium is found as ``OZGBRIDGE_CHROMIUM`` or on PATH (``chromium``, ``chromium-browser``,
``google-chrome``). It prints a local file with a throw-away profile and no network use: the page
is self-contained (inline stylesheet and SVG, no scripts), so nothing is fetched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ozgbridge.errors import OzgbridgeError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 120


class PdfError(OzgbridgeError):
    """The PDF could not be printed (no Chromium, or it failed)."""


def find_chromium() -> str:
    configured = os.environ.get("OZGBRIDGE_CHROMIUM")
    if configured:
        if not Path(configured).is_file():
            raise PdfError(f"OZGBRIDGE_CHROMIUM={configured}: no such file")
        return configured
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise PdfError(
        "PDF needs Chromium: install it (apt-get install chromium) or set OZGBRIDGE_CHROMIUM"
    )


def render_pdf(html: str) -> bytes:
    """Print ``html`` (a complete, self-contained document) to PDF, A4 per its stylesheet."""
    chromium = find_chromium()
    with tempfile.TemporaryDirectory(prefix="ozgbridge-pdf-") as work:
        page, out = Path(work) / "report.html", Path(work) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        command = [
            chromium,
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
            f"--user-data-dir={Path(work) / 'profile'}",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        if os.geteuid() == 0:  # Chromium refuses to run as root with its sandbox
            command.insert(2, "--no-sandbox")
        try:
            done = subprocess.run(  # noqa: S603 - fixed arguments, no shell
                command, capture_output=True, timeout=TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PdfError(f"Chromium could not print the PDF: {exc}") from exc
        if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise PdfError(
                f"Chromium could not print the PDF (exit {done.returncode}): {' / '.join(tail)}"
            )
        return out.read_bytes()
