"""Chart helpers: axis scale, German number formats, readable text on coloured cells."""

from __future__ import annotations

import pytest

from ozgbridge.reporting.charts import HEALTH, PALETTE, _nice_max, luminance, text_colour
from ozgbridge.reporting.fmt import (
    fmt_delta,
    fmt_delta_share,
    fmt_int,
    fmt_month,
    fmt_seconds,
    fmt_share,
)
from ozgbridge.reporting.matrix import MATURITY_FILLS


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 4), (3, 4), (5, 8), (9, 20), (21, 40), (41, 80), (1234, 2000)]
)
def test_axis_maximum_gives_four_whole_steps(value: int, expected: int) -> None:
    assert _nice_max(value) == expected
    assert expected % 4 == 0


def test_german_number_formats() -> None:
    assert fmt_int(1234567) == "1.234.567"
    assert fmt_seconds(38.5) == "38,5 s"
    assert fmt_seconds(12345.25) == "12.345,2 s"
    assert fmt_seconds(None) == "–"
    assert fmt_share(0.6875) == "68,8 %"
    assert fmt_share(None) == "–"
    assert fmt_month("2026-10") == "10.2026"


def test_changes_to_the_previous_period() -> None:
    assert fmt_delta(16, 1) == "+15"
    assert fmt_delta(1, 1200) == "−1.199"
    assert fmt_delta(3, 3) == "±0"
    assert fmt_delta_share(0.6875, 1.0) == "−31,2 Pp."
    assert fmt_delta_share(0.5, 0.25) == "+25,0 Pp."
    assert fmt_delta_share(0.5, 0.5) == "±0 Pp."
    assert fmt_delta_share(None, 0.5) == "–"


@pytest.mark.parametrize("fill", [*MATURITY_FILLS, *PALETTE, *HEALTH.values()])
def test_text_on_every_fill_has_at_least_aa_large_contrast(fill: str) -> None:
    text = text_colour(fill)
    lighter, darker = sorted([luminance(fill), luminance(text)], reverse=True)

    assert (lighter + 0.05) / (darker + 0.05) >= 4.5
