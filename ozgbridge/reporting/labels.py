"""German labels for everything people read: sheet names, column headers, codes.

JSON and CSV keep the snake_case keys (the README lists each with its label); XLSX, HTML and PDF
show these. The coverage sheet is the exception the federal export forces: its first columns keep
the federal field names, since that is what a coordinator joins on.
"""

from __future__ import annotations

from typing import Final

from ozgbridge.reporting import federal
from ozgbridge.reporting.availability import Verdict
from ozgbridge.reporting.coverage import Reason

# Excel allows at most 31 characters and none of : \ / ? * [ ]
SHEETS: Final = {
    "summary": "Übersicht",
    "tenant-services": "Leistungen je Kommune",
    "tenant-health": "Zustellung je Kommune",
    "services": "Leistungen",
    "coverage": "Abdeckung (Bundesformat)",
    "availability": "Verfügbarkeit je Route",
    "unmet-demand": "Nachfrage ohne Angebot",
    "usage": "Nutzung (Kostenverteilung)",
    "trend": "Verlauf je Monat",
    "processing": "Bearbeitung",
}

COLUMNS: Final = {
    "kreis": "Kreis",
    "tenant": "Kommune (ID)",
    "tenant_name": "Kommune",
    "ars": "ARS",
    "leika_key": "LeiKa-Schlüssel",
    "service_name": "Leistung",
    "ozg_id": "OZG-ID",
    "ozg_leistung": "OZG-Leistung",
    "route_id": "Route",
    "channel": "Kanal",
    "connector": "Kanal",
    "maturity_model": "Reifegradmodell",
    "maturity_level": "Reifegrad",
    "maturity_meets_threshold": "Reifegrad ab Online-Schwelle",
    "received": "eingegangen",
    "delivered": "zugestellt",
    "dead": "gescheitert",
    "pending": "offen",
    "latency_median_s": "Zustelldauer Median (s)",
    "latency_p95_s": "Zustelldauer p95 (s)",
    "attempts_per_delivered": "Versuche je Zustellung",
    "availability": "Verfügbarkeit (zugestellt ≤ 1 h)",
    "tenants_in_scope": "Kommunen im Bericht",
    "tenants_offered": "Kommunen mit Angebot",
    "tenants_online": "Kommunen online",
    "area_wide": "flächendeckend",
    "refusals": "abgelehnte Anträge",
    "offered": "angeboten",
    "reason": "Grund",
    "served_by": "bedient von (ID)",
    "served_by_name": "bedient von",
    "verdict": "Befund",
    "deliveries": "Zustellungen",
    "delivered_within_hour": "davon ≤ 1 h zugestellt",
    "undecided": "noch unterwegs (< 1 h)",
    "last_delivered_at": "zuletzt zugestellt (UTC)",
    "checks_ok": "Routentests erfolgreich",
    "checks_failed": "Routentests fehlgeschlagen",
    "breaker_open_s": "Sperre offen (s)",
    "region_name": "Region",
    "months": "Monate mit Ablehnungen",
    "last_month": "letzter Monat",
    "routed_now": "heute jemand zuständig",
    "applications": "Anträge",
    "volume_bytes": "Volumen (Bytes)",
    "delivered_volume_bytes": "zugestelltes Volumen (Bytes)",
    "month": "Monat",
    # processing (status reported back by the authorities)
    "completed": "beschieden",
    "completion_median_s": "Median bis Bescheid (s)",
    "rejected": "abgelehnt",
    "withdrawn": "zurückgezogen",
    "forwarded": "weitergeleitet (unzuständig)",
    "unroutable": "ohne Zuständigkeit",
}

# The coverage view's federal columns keep their own names as headers.
FEDERAL_COLUMNS: Final = frozenset(federal.EXPORT_FIELDS)

SUMMARY: Final = {
    "received": "eingegangen",
    "delivered": "zugestellt",
    "dead": "gescheitert",
    "pending": "offen",
    "volume_bytes": "Volumen (Bytes)",
    "delivered_volume_bytes": "zugestelltes Volumen (Bytes)",
    "services_offered": "Leistungen angeboten",
    "services_online": "Leistungen online",
    "services_area_wide": "davon flächendeckend",
    "refusals": "Nachfrage ohne Angebot (abgelehnte Anträge)",
    "availability": "Verfügbarkeit (zugestellt ≤ 1 h)",
}

REASONS: Final = {
    Reason.DELIVERED: "online: im Zeitraum zugestellt",
    Reason.CHECKED: "online: ohne Anträge, Routentest erfolgreich",
    Reason.MEMBERS: "online in allen Mitgliedskommunen",
    Reason.SOME_MEMBERS: "nicht in allen Mitgliedskommunen online",
    Reason.NOBODY: "niemand zuständig",
    Reason.CATCH_ALL_UNUSED: "nur Sammelroute, ohne Anträge",
    Reason.FAILING: "Anträge, aber keine Zustellung",
    Reason.NO_EVIDENCE: "ohne Anträge und ohne Routentest",
    Reason.MATURITY: "Reifegrad unter der Online-Schwelle",
}

VERDICTS: Final = {
    Verdict.DELIVERED: "verfügbar",
    Verdict.CHECKED: "verfügbar (Routentest)",
    Verdict.FAILING: "gestört",
    Verdict.NO_EVIDENCE: "ohne Nachweis",
}


def column(view: str, name: str) -> str:
    """The header people see for ``name`` in ``view``."""
    if view == "coverage" and name in FEDERAL_COLUMNS:
        return name
    if view == "coverage" and name == "tenant":
        return "Kommune (ID)"
    return COLUMNS.get(name, name)


def reason(code: str) -> str:
    return REASONS.get(Reason(code), code) if code in Reason._value2member_map_ else code


def verdict(code: str) -> str:
    return VERDICTS.get(Verdict(code), code) if code in Verdict._value2member_map_ else code
