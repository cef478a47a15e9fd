"""The GV100AD reader: the record layout of Destatis' Datensatzbeschreibung GV100AD."""

from __future__ import annotations

from datetime import date

import pytest

from ozgbridge.regions.directory import Entry
from ozgbridge.regions.gv100ad import GV100ADError, iter_lines, parse


def record(kind: str, key: str, verband: str, name: str, seat: str, code: str) -> str:
    """One fixed-width line as GV100AD writes it (statistics columns left blank)."""
    return (
        (kind + "20231130" + key.ljust(8) + verband.rjust(4) + name.ljust(50)).ljust(72)
        + seat.ljust(50)
        + code.ljust(2)
        + " " * 96
    )


LINES = [
    record("10", "05", "", "Nordrhein-Westfalen", "Düsseldorf", ""),
    record("20", "051", "", "Reg.-Bez. Düsseldorf", "Düsseldorf", ""),
    record("40", "05370", "", "Heinsberg", "Heinsberg", "43"),
    record("50", "05370", "0004", "Erkelenz, Stadt", "", "50"),  # verbandsfrei: dropped
    record("60", "05370004", "0004", "Erkelenz, Stadt", "", "63"),
    record("40", "01051", "", "Dithmarschen", "Heide", "43"),
    record("50", "01051", "5175", "Mitteldithmarschen", "Meldorf", "51"),  # an Amt: kept
    record("60", "01051001", "5175", "Albersdorf", "", "64"),
    record("30", "08111", "", "Region Stuttgart", "Stuttgart", ""),  # Regionen: skipped
]


def test_records_become_directory_entries() -> None:
    parsed = parse(LINES)
    assert parsed.gebietsstand == date(2023, 11, 30)
    assert parsed.entries == [
        Entry("05", "land", "Nordrhein-Westfalen", ""),
        Entry("051", "regierungsbezirk", "Reg.-Bez. Düsseldorf", ""),
        Entry("05370", "kreis", "Heinsberg", "43"),
        Entry("053700004004", "gemeinde", "Erkelenz, Stadt", "63"),
        Entry("01051", "kreis", "Dithmarschen", "43"),
        Entry("010515175", "verband", "Mitteldithmarschen", "51"),
        # The ARS puts the Verband between Kreis and Gemeinde: 01051 5175 001.
        Entry("010515175001", "gemeinde", "Albersdorf", "64"),
    ]
    assert parsed.entries[-1].ags == "01051001"


def test_encodings() -> None:
    text = "\n".join(LINES) + "\n"
    assert list(iter_lines(text.encode("utf-8"))) == LINES
    # Files before 2019 are ISO-8859-1.
    assert list(iter_lines(text.encode("iso-8859-1"))) == LINES


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("99" + "20231130" + "05", "unknown Satzart"),
        ("10" + "2023x130" + "05", "not a date"),
        ("60" + "20231130" + "0537", "at least 124"),
    ],
)
def test_malformed_lines_are_named(line: str, message: str) -> None:
    with pytest.raises(GV100ADError, match=message):
        parse([LINES[0], line])


def test_mixed_gebietsstand_is_refused() -> None:
    other = LINES[1].replace("20231130", "20240331", 1)
    with pytest.raises(GV100ADError, match="differs"):
        parse([LINES[0], other])
    with pytest.raises(GV100ADError, match="no records"):
        parse(["", "  "])
