"""Processing status codes and the rules for reporting them (pure: values in, decisions out).

An authority reports what became of an application after delivery — the steps an applicant sees
in the portal and in their BundID/Postfach: Eingang bestätigt, in Bearbeitung, Rückfrage,
beschieden. ``processingStatus`` is the latest report, beside ozgbridge's own delivery ``status``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from ozgbridge.domain import RegionRef


class ProcessingStatus(StrEnum):
    CONFIRMED = "confirmed"  # Eingang bestätigt
    IN_PROGRESS = "in_progress"  # in Bearbeitung
    INFORMATION_REQUIRED = "information_required"  # Rückfrage / Nachforderung
    COMPLETED = "completed"  # beschieden / abgeschlossen
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    NOT_RESPONSIBLE = "not_responsible"  # Unzuständigkeit: forwarded, or unroutable


# After these only an operator may set another status: the case is closed.
FINAL = frozenset(
    {ProcessingStatus.COMPLETED, ProcessingStatus.REJECTED, ProcessingStatus.WITHDRAWN}
)

# Codes other channels report, and what they mean here. FIT-Connect's accept-submission and
# reject-submission (recorded as accepted/rejected by the FIT-Connect plug-in) are the
# destination's confirmation of receipt and its refusal.
_SYNONYMS = {
    "accepted": ProcessingStatus.CONFIRMED,
    "accept-submission": ProcessingStatus.CONFIRMED,
    "reject-submission": ProcessingStatus.REJECTED,
}

MAX_NOTE_CHARS = 2000
MAX_FILE_REFERENCE_CHARS = 200
# A note is text for a person: line breaks and tabs are fine, other control characters are not.
_NOTE_CONTROLS_ALLOWED = frozenset("\n\r\t")


def normalise(code: str) -> ProcessingStatus:
    """The status a code stands for; ValueError for a code that means nothing here."""
    synonym = _SYNONYMS.get(code)
    if synonym is not None:
        return synonym
    return ProcessingStatus(code)


def note_problem(note: str) -> str | None:
    """Why ``note`` cannot be stored (too long, control characters), or None."""
    if len(note) > MAX_NOTE_CHARS:
        return f"must be at most {MAX_NOTE_CHARS} characters (is {len(note)})"
    for char in note:
        if unicodedata.category(char) == "Cc" and char not in _NOTE_CONTROLS_ALLOWED:
            return f"must not contain control characters (found U+{ord(char):04X})"
    return None


@dataclass(frozen=True)
class StatusReport:
    """One report, as it came in (API body or a back-end's answer), already validated."""

    status: ProcessingStatus
    note: str | None = None
    file_reference: str | None = None
    forward_to: RegionRef | None = None


@dataclass(frozen=True)
class Refusal:
    """The report is not taken: HTTP ``status`` and a sentence saying why."""

    status: int
    detail: str


def check_report(report: StatusReport, current: str | None, *, operator: bool) -> Refusal | None:
    """May this report be recorded, given the application's current processing status?

    After completed, rejected or withdrawn the case is closed: only an operator may reopen it
    (a correction), a tenant gets 409.
    """
    if report.forward_to is not None and report.status is not ProcessingStatus.NOT_RESPONSIBLE:
        return Refusal(422, "forwardTo is only for status not_responsible")
    if current in FINAL and not operator:
        return Refusal(
            409,
            f"the application is already {current}; after completed, rejected or withdrawn only "
            "an operator may set another status",
        )
    return None
