"""Headless Chromium (Debian's, at /usr/bin/chromium) driven by Playwright; nothing downloaded.

Without Chromium or Playwright the browser tests skip with a loud reason — except under CI=true,
where they fail: CI must prove the dashboard works in a real browser.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} — CI=true requires the browser tests to run")
    pytest.skip(f"SKIPPING BROWSER TESTS: {reason}")


def chromium_or_skip() -> str:
    executable = os.environ.get("OZGBRIDGE_TEST_CHROMIUM") or shutil.which("chromium")
    if executable is None:
        unavailable("no chromium on PATH (apt-get install -y chromium)")
    assert executable is not None
    return executable


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    executable = chromium_or_skip()
    try:
        from playwright.async_api import async_playwright  # noqa: PLC0415
    except ImportError:
        unavailable("playwright is not installed (.venv/bin/pip install playwright)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            yield launched
        finally:
            await launched.close()
