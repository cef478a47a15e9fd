"""Chart helpers: axis scale, German number formats, readable text on coloured cells."""

from __future__ import annotations

import pytest

from ozgbridge.reporting.charts import (
    HEALTH,
    MATURITY_FILLS,
    PALETTE,
    _luminance,
    _nice_max,
    _text_colour,
    fmt_int,
    fmt_seconds,
)


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


@pytest.mark.parametrize("fill", [*MATURITY_FILLS, *PALETTE, *HEALTH.values()])
def test_text_on_every_fill_has_at_least_aa_large_contrast(fill: str) -> None:
    text = _text_colour(fill)
    lighter, darker = sorted([_luminance(fill), _luminance(text)], reverse=True)

    assert (lighter + 0.05) / (darker + 0.05) >= 4.5
