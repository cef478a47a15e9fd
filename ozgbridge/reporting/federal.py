"""The federal contract the report joins with: the Dashboard Digitale Verwaltung export, the
Reifegradmodell thresholds and the Länder codes — every constant with its source.

**Export fields and value spellings** — the OpenAPI document of the Dashboard Digitale Verwaltung
data API (``https://dashboard-daten.digitale-verwaltung.de/api/v1/data/{ars}?filetype=csv|xlsx``),
schema ``DvDataDto``, as published by bund.dev in github.com/bundesAPI/digitale-verwaltung-api
(``openapi.yaml``): the field names below in this order, ``online_status`` ∈ {``ok``,
``nicht ok``}, ``aktiv`` ∈ {``ja``, ``nein``}, ``art_flaechendeckung`` ∈ the five values of
`AREA_VALUES`, ``ozgid`` an integer.

**Reifegrad thresholds** — Reifegradmodell 1.1 (levels 0–4): the Bund counts a service as online
from level 2 ("gilt als online, wenn mindestens eine zugehörige Verwaltungsleistung den
Reifegrad 2 erreicht hat", digitale-verwaltung.de, "Reifegradmodell"). Reifegradmodell 2.0
(July 2025, levels 0–7, levels 0–3 the online application service): the scale is confirmed by
ozg.sachsen-anhalt.de ("Reifegradmodell", Stand 02-2026); the level at which 2.0 counts a service
as online could not be confirmed from a public source reachable here — 2 is assumed, the same
level of the front-end scale as in 1.1. It lives only in `ONLINE_FROM_LEVEL`.
"""

from __future__ import annotations

from typing import Final

from ozgbridge.regions import consistency

# DvDataDto, in the order of the OpenAPI schema.
EXPORT_FIELDS: Final = (
    "leika_key",
    "leika_name",
    "ars",
    "ars_name",
    "ars_federal_state",
    "bundesland",
    "leika_bezeichnung",
    "ozgid",
    "ozg_bezeichnung",
    "url",
    "online_status",
    "aktiv",
    "art_flaechendeckung",
)

ONLINE_OK: Final = "ok"
ONLINE_NOT_OK: Final = "nicht ok"
ACTIVE_YES: Final = "ja"
ACTIVE_NO: Final = "nein"

NATIONWIDE: Final = "bundesweit flächendeckend"
AT_LEAST_ONE: Final = "in mind. einer Kommune verfügbar"
STATEWIDE: Final = "landesweit flächendeckend"
DISTRICTWIDE: Final = "kreisweit flächendeckend"
NOT_EVALUATED: Final = "nicht in Auswertung berücksichtigt"
# The enum of art_flaechendeckung. A deployment never spans Germany, and nothing is left out of
# the evaluation, so ozgbridge itself produces only the last three of these: landesweit,
# kreisweit, in mind. einer Kommune.
AREA_VALUES: Final = (NATIONWIDE, AT_LEAST_ONE, STATEWIDE, DISTRICTWIDE, NOT_EVALUATED)

MATURITY_MAX: Final = {"1.1": 4, "2.0": 7}
ONLINE_FROM_LEVEL: Final = {"1.1": 2, "2.0": 2}

# The 2-digit Land part of the AGS/ARS (Statistisches Bundesamt, Gemeindeverzeichnis): one
# table, kept with the region checks.
LAENDER: Final = consistency.LAENDER


def meets_online_threshold(model: str, level: int) -> bool:
    """Whether a declared Reifegrad counts as online in its model."""
    return level >= ONLINE_FROM_LEVEL[model]


def maturity_share(model: str, level: int) -> float:
    """The level as a share of the model's highest (0.0 … 1.0), for colouring."""
    return level / MATURITY_MAX[model]


def is_land(ars: str) -> bool:
    return ars[2:] == "0" * 10


def is_kreis(ars: str) -> bool:
    """A Kreis or kreisfreie Stadt: the ARS ends after its Kreis digits (3–5), which are set."""
    return ars[5:] == "0" * 7 and ars[3:5] != "00"
