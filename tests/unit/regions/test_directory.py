"""The shipped municipality directory: what it covers, and lookups by AGS, ARS and Kreis."""

from __future__ import annotations

from datetime import date

import pytest

from ozgbridge.regions import default_directory, names_match
from ozgbridge.regions.directory import Directory, Entry, Source, read_csv, write_csv

# Kreis Heinsberg and the Münsterland, AGS and ARS as listed in the project's reference data
# (official federal annex lists; ARS by the NRW rule).
REFERENCE = {
    "05370004": ("053700004004", "Erkelenz"),
    "05370008": ("053700008008", "Gangelt"),
    "05370016": ("053700016016", "Heinsberg"),
    "05370028": ("053700028028", "Übach-Palenberg"),
    "05370040": ("053700040040", "Wegberg"),
    "05515000": ("055150000000", "Münster"),
    "05915000": ("059150000000", "Hamm"),
    "05558004": ("055580004004", "Ascheberg"),
    "05558044": ("055580044044", "Senden"),
    "05570052": ("055700052052", "Warendorf"),
}


def test_source_is_gv_isys_with_its_gebietsstand_and_licence() -> None:
    source = default_directory().source
    assert source.gebietsstand == date(2023, 11, 30)
    assert source.file == "GV100AD_301123.txt"
    assert "GV-ISys" in source.title
    assert "dl-de/by-2-0" in source.licence
    assert dict(source.states) == {"05": "Nordrhein-Westfalen"}


def test_nrw_is_complete() -> None:
    entries = default_directory().entries()
    gemeinden = [e for e in entries if e.level == "gemeinde"]
    kreise = [e for e in entries if e.level == "kreis"]
    assert len(gemeinden) == 396
    assert len([k for k in kreise if k.kind == "41"]) == 22  # kreisfreie Städte
    assert len([k for k in kreise if k.kind == "43"]) == 31
    # NRW has no Gemeindeverbände: every ARS follows the NRW rule.
    for gemeinde in gemeinden:
        ags = gemeinde.ags
        rule = ags + "0000" if ags[5:] == "000" else ags[:5] + "0" + ags[5:] + ags[5:]
        assert gemeinde.ars == rule


@pytest.mark.parametrize(("ags", "expected"), REFERENCE.items())
def test_reference_municipalities(ags: str, expected: tuple[str, str]) -> None:
    ars, name = expected
    directory = default_directory()
    gemeinde = directory.gemeinde_by_ags(ags)
    assert gemeinde is not None
    assert gemeinde.ars == ars
    assert directory.region(ars) == gemeinde
    assert names_match(gemeinde.name, name)


def test_kreis_level_keys() -> None:
    directory = default_directory()
    kreis = directory.region_by_ags("05370000")
    assert kreis is not None
    assert kreis.describe() == "Kreis 05370 (Heinsberg)"
    assert directory.region("053700000000") == kreis
    assert [g.name for g in directory.gemeinden_in_kreis("05370")][:2] == [
        "Erkelenz, Stadt",
        "Gangelt",
    ]
    assert len(directory.gemeinden_in_kreis("05370")) == 10
    # A kreisfreie Stadt is its own Kreis and its own only Gemeinde.
    muenster = directory.region("055150000000")
    assert muenster is not None
    assert muenster.level == "gemeinde"
    assert directory.kreis_of("05515000") == directory.get("05515")


def test_unknown_and_uncovered_keys() -> None:
    directory = default_directory()
    assert directory.gemeinde_by_ags("05370099") is None
    assert directory.covers("05370099")
    assert directory.region("053709999999") is None
    assert not directory.covers("09162000")  # München: Bayern is not shipped
    assert directory.region_by_ags("09162000") is None


@pytest.mark.parametrize(
    ("official", "configured", "match"),
    [
        ("Erkelenz, Stadt", "Stadt Erkelenz", True),
        ("Heinsberg", "Kreis Heinsberg", True),
        ("Gronau (Westf.), Stadt", "Stadt Gronau", True),
        ("Schloß Holte-Stukenbrock, Stadt", "Schloss Holte-Stukenbrock", True),
        ("Hagen, Stadt der FernUniversität", "Stadt Hagen", True),
        ("Erkelenz, Stadt", "Stadt Hückelhoven", False),
    ],
)
def test_names_match(official: str, configured: str, match: bool) -> None:
    assert names_match(official, configured) is match


def test_csv_round_trip_and_malformed_keys() -> None:
    entries = [
        Entry("05", "land", "Nordrhein-Westfalen"),
        Entry("05370", "kreis", "Heinsberg", "43"),
        Entry("053700004004", "gemeinde", "Erkelenz, Stadt", "63"),
    ]
    assert read_csv(write_csv(entries)) == entries
    source = Source(date(2023, 11, 30), "t", "f", "l", {"05": "NRW"})
    with pytest.raises(ValueError, match="wrong form"):
        Directory([Entry("0537", "kreis", "x", "43")], source)
