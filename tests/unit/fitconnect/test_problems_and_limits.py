"""The problem catalogue's types, fragment ranges, and tests that need nothing outside the repo."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectors.fitconnect import limits, problems

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_problem_types_and_instances_follow_the_catalogue() -> None:
    rejection = problems.Rejection(problems.HASH_MISMATCH, problems.attachment("a-1"), "detail")

    assert rejection.as_problem() == {
        "type": "https://schema.fitko.de/fit-connect/events/problems/hash-mismatch",
        "title": "Prüfsumme stimmt nicht",
        "detail": "detail",
        "instance": "attachment:a-1",
    }
    for name, problem in problems.CATALOGUE.items():
        assert problem.type == f"https://schema.fitko.de/fit-connect/events/problems/{name}"


def test_fragment_ranges_cover_the_attachment_without_gaps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_UPLOAD_BYTES", 100)
    monkeypatch.setattr(limits, "FRAGMENT_BYTES", 40)

    assert limits.fragment_ranges(100) == [(0, 100)]
    assert limits.fragment_ranges(101) == [(0, 40), (40, 80), (80, 101)]
    assert limits.fragment_ranges(0) == [(0, 0)]


# Ways a test could reach the workplace's shared/ folder beside the clone.
_OUTSIDE = re.compile(r'"shared"\s*/\s*"data"|parents?(\[\d\])?\s*/\s*"shared"|\.\./shared/')


def test_tests_read_nothing_outside_the_repository() -> None:
    # A clone without the workplace's shared/ folder must pass (CI runs exactly that).
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in (REPO_ROOT / "tests").rglob("*.py")
        if path != Path(__file__) and _OUTSIDE.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    assert _OUTSIDE.search('REPO_ROOT.parent / "shared" / "data"')  # the pattern conftest had
