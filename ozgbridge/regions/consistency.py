"""Is a region key that a submission names one that exists? (Pure: keys and the directory in.)

An ARS is ``Land(2) Regierungsbezirk(1) Kreis(2) Gemeindeverband(4) Gemeinde(3)``; its AGS drops
the Verband part. A made-up Verband part leaves the AGS intact, so routing would find the town
while the stored and reported ARS names nothing — the check must look at all twelve digits.

- Where the shipped directory covers the Land (see `Directory.covers`), the key must be one of
  its Gemeinden, or a Kreis, Regierungsbezirk or Land (zero-padded).
- Elsewhere, in a Land without Gemeindeverbände (Hamburg, Bremen, Hessen, Saarland, Berlin — and
  Nordrhein-Westfalen, should the directory not cover it), every Gemeinde is verbandsfrei, and
  the Verband part of a verbandsfreie Gemeinde is ``0`` followed by the Gemeinde's own three
  digits (kreisfreie Städte: ``0000``), as the statistical offices assign them (e.g. Land
  Brandenburg's Kommunalverzeichnis: "bei amtsfreien / verbandsfreien Gemeinden werden die Stellen
  für die Gemeinden wiederholt").
- In the other Länder the Verband part cannot be checked without their section of the directory
  (`scripts/refresh-gemeindeverzeichnis.py` ships all of them): such keys are accepted as sent —
  a documented limitation — once their Land exists.
"""

from __future__ import annotations

from ozgbridge.domain import ars_from_ags
from ozgbridge.errors import InvalidValue
from ozgbridge.regions.directory import Directory

# The 2-digit Land part of the AGS/ARS (Statistisches Bundesamt, Gemeindeverzeichnis).
LAENDER = {
    "01": "Schleswig-Holstein",
    "02": "Hamburg",
    "03": "Niedersachsen",
    "04": "Bremen",
    "05": "Nordrhein-Westfalen",
    "06": "Hessen",
    "07": "Rheinland-Pfalz",
    "08": "Baden-Württemberg",
    "09": "Bayern",
    "10": "Saarland",
    "11": "Berlin",
    "12": "Brandenburg",
    "13": "Mecklenburg-Vorpommern",
    "14": "Sachsen",
    "15": "Sachsen-Anhalt",
    "16": "Thüringen",
}
# Länder whose Gemeinden are all verbandsfrei (no Ämter, Samtgemeinden, Verbandsgemeinden,
# Verwaltungsgemeinschaften or -verbände).
WITHOUT_VERBAENDE = frozenset({"02", "04", "05", "06", "10", "11"})


class RegionError(InvalidValue):
    """The key names no region; the message says why and, where it can, which key is right."""


def _no_land(key: str) -> RegionError:
    return RegionError(f"{key} names no Land: its first two digits must be 01–16")


def check_ars(ars: str, directory: Directory) -> None:
    """Raise `RegionError` unless the 12-digit ``ars`` can name a region (see the module doc)."""
    land = ars[:2]
    if land not in LAENDER:
        raise _no_land(ars)
    ags = ars[:5] + ars[9:]
    if directory.covers(ars):
        if directory.region(ars) is not None:
            return
        gemeinde = directory.gemeinde_by_ags(ags)
        if gemeinde is not None:
            raise RegionError(
                f"{ars} is not in the municipality directory: the Gemeindeverband part "
                f"{ars[5:9]} is wrong — {gemeinde.describe()} has ARS {gemeinde.key}"
            )
        raise RegionError(
            f"no municipality, Kreis or Land has ARS {ars} in the municipality directory "
            f"(Gebietsstand {directory.source.gebietsstand:%d.%m.%Y})"
        )
    if land in WITHOUT_VERBAENDE:
        expected = ars_from_ags(ags)
        if ars != expected:
            raise RegionError(
                f"{ars} cannot exist: {LAENDER[land]} has no Gemeindeverbände, so the ARS of "
                f"AGS {ags} is {expected}"
            )


def ars_for_ags(ags: str, directory: Directory) -> str:
    """The ARS of an 8-digit AGS; raises `RegionError` for one that names no region.

    From the directory where it covers the Land; else by the rule for verbandsfreie Gemeinden —
    exact in Länder without Gemeindeverbände, a documented guess in the others.
    """
    if ags[:2] not in LAENDER:
        raise _no_land(ags)
    if directory.covers(ags):
        entry = directory.region_by_ags(ags)
        if entry is None:
            raise RegionError(
                f"no municipality, Kreis or Land has AGS {ags} in the municipality directory "
                f"(Gebietsstand {directory.source.gebietsstand:%d.%m.%Y})"
            )
        return entry.ars
    return ars_from_ags(ags)
