"""An ARS or AGS must name a region that exists, the Gemeindeverband part included."""

from __future__ import annotations

import pytest

from ozgbridge.regions import default_directory
from ozgbridge.regions.consistency import RegionError, ars_for_ags, check_ars

DIRECTORY = default_directory()


@pytest.mark.parametrize(
    "ars",
    [
        "053700004004",  # Erkelenz, a town in Kreis Heinsberg
        "051110000000",  # Düsseldorf, kreisfreie Stadt
        "053700000000",  # Kreis Heinsberg
        "050000000000",  # Nordrhein-Westfalen
        "064340001001",  # Bad Homburg (Hessen: no Gemeindeverbände, not in the directory)
        "020000000000",  # Hamburg
        "091620000000",  # München (Bayern: accepted as sent, the limitation)
        "097735749134",  # a Bavarian Verwaltungsgemeinschaft member: cannot be checked here
    ],
)
def test_existing_or_uncheckable_keys_pass(ars: str) -> None:
    check_ars(ars, DIRECTORY)


@pytest.mark.parametrize(
    ("ars", "message"),
    [
        ("053700099004", "Gemeindeverband part 0099 is wrong — Gemeinde 05370004 (Erkelenz, Stadt) "
         "has ARS 053700004004"),
        ("053700000004", "has ARS 053700004004"),
        ("053709999999", "no municipality, Kreis or Land has ARS 053709999999"),
        ("064340099001", "Hessen has no Gemeindeverbände, so the ARS of AGS 06434001 is "
         "064340001001"),
        ("100410100001", "Saarland has no Gemeindeverbände"),
        ("170000000000", "names no Land"),
        ("000000000000", "names no Land"),
    ],
)  # fmt: skip
def test_made_up_keys_are_refused_with_the_right_one_where_known(ars: str, message: str) -> None:
    with pytest.raises(RegionError) as refused:
        check_ars(ars, DIRECTORY)
    assert message in str(refused.value)


def test_the_ars_of_an_ags_comes_from_the_directory_or_the_rule() -> None:
    assert ars_for_ags("05370004", DIRECTORY) == "053700004004"
    assert ars_for_ags("05370000", DIRECTORY) == "053700000000"
    assert ars_for_ags("06434001", DIRECTORY) == "064340001001"
    with pytest.raises(RegionError, match="no municipality, Kreis or Land has AGS 05370999"):
        ars_for_ags("05370999", DIRECTORY)
    with pytest.raises(RegionError, match="names no Land"):
        ars_for_ags("99000000", DIRECTORY)
