"""Reading Destatis' GV100AD file (Gemeindeverzeichnis-Informationssystem GV-ISys, "Auszug").

GV100AD is a fixed-width text file (UTF-8 since 2019), one record per line; the layout is the
"Datensatzbeschreibung GV100AD" that Destatis ships in the same ZIP archive. Positions used
here (0-based, end exclusive):

====== ========================================================================================
0:2    Satzart: 10 Land, 20 Regierungsbezirk, 30 Region (BW), 40 Kreis, 50 Gemeindeverband,
       60 Gemeinde
2:10   Gebietsstand, YYYYMMDD
10:18  Regionalschlüssel of the record's level: Land (2), RB (1), Kreis (2), Gemeinde (3)
18:22  Gemeindeverband (Satzart 50 and 60)
22:72  name
72:122 seat of the administration (Sitz der Verwaltung)
122:124 Textkennzeichen (type): 41 kreisfreie Stadt, 42 Stadtkreis, 43 Kreis, 44 Landkreis,
       45 Regionalverband; 50 verbandsfreie Gemeinde, 51 Amt, 52 Samtgemeinde,
       53 Verbandsgemeinde, 54 Verwaltungsgemeinschaft, 55 Kirchspielslandgemeinde,
       56 Verwaltungsverband, 57 VG Trägermodell, 58 erfüllende Gemeinde; 60 Markt,
       61 kreisfreie Stadt, 62 Stadtkreis, 63 Stadt, 64 kreisangehörige Gemeinde,
       65 gemeindefreies Gebiet (bewohnt), 66 gemeindefreies Gebiet (unbewohnt),
       67 große Kreisstadt
====== ========================================================================================

The ARS (Amtlicher Regionalschlüssel) of a Gemeinde is Land+RB+Kreis, Verband, Gemeinde:
``line[10:15] + line[18:22] + line[15:18]``. `parse` keeps what routing needs (keys, names,
types) and drops the statistics (area, population, postcodes).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from ozgbridge.errors import InvalidValue
from ozgbridge.regions.directory import Entry, Level

# A Gemeindeverband of type 50 is a verbandsfreie Gemeinde: the same place as its one Gemeinde,
# so it adds nothing to the directory.
_VERBANDSFREI = "50"


class GV100ADError(InvalidValue):
    """A line that is not a GV100AD record; the message names the line."""


@dataclass(frozen=True)
class Parsed:
    """The directory entries of one GV100AD file, and its Gebietsstand."""

    gebietsstand: date
    entries: list[Entry]


def parse(lines: Iterable[str]) -> Parsed:
    """The entries of a GV100AD file, in file order; `GV100ADError` on a malformed line."""
    entries: list[Entry] = []
    stand: date | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        entry, line_stand = _record(line, number)
        if stand is None:
            stand = line_stand
        elif line_stand != stand:
            raise GV100ADError(
                f"line {number}: Gebietsstand {line_stand} differs from {stand} (mixed files?)"
            )
        if entry is not None:
            entries.append(entry)
    if stand is None:
        raise GV100ADError("no records: not a GV100AD file")
    return Parsed(stand, entries)


def _record(line: str, number: int) -> tuple[Entry | None, date]:
    kind = line[0:2]
    if len(line) < 124 and kind in ("40", "50", "60"):
        raise GV100ADError(f"line {number}: {len(line)} characters, a record has at least 124")
    try:
        stand = date(int(line[2:6]), int(line[6:8]), int(line[8:10]))
    except ValueError:
        raise GV100ADError(f"line {number}: {line[2:10]!r} is not a date (YYYYMMDD)") from None
    name = " ".join(line[22:72].split())
    kind_code = line[122:124].strip()
    key: str
    level: Level
    if kind == "10":
        key, level = line[10:12], "land"
    elif kind == "20":
        key, level = line[10:13], "regierungsbezirk"
    elif kind == "30":  # Regionen (Baden-Württemberg) sit between RB and Kreis; not needed
        return None, stand
    elif kind == "40":
        key, level = line[10:15], "kreis"
    elif kind == "50":
        if kind_code == _VERBANDSFREI:
            return None, stand
        key, level = line[10:15] + line[18:22], "verband"
    elif kind == "60":
        key, level = line[10:15] + line[18:22] + line[15:18], "gemeinde"
    else:
        raise GV100ADError(f"line {number}: unknown Satzart {kind!r}")
    if not key.isdigit():
        raise GV100ADError(f"line {number}: key {key!r} is not numeric")
    if not name:
        raise GV100ADError(f"line {number}: no name")
    return Entry(key=key, level=level, name=name, kind=kind_code), stand


def iter_lines(data: bytes) -> Iterator[str]:
    """The lines of a GV100AD file's bytes: UTF-8 since 2019, ISO-8859-1 before."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("iso-8859-1")
    return iter(text.splitlines())
