"""FIT-Connect's problem catalogue for ``reject-submission`` events, and the parts they name.

Source: FITKO, "Einreichung überprüfen" (https://docs.fitko.de/fit-connect/docs/receiving/verification/):
a rejection carries RFC 7807-like problems whose ``type`` is
``https://schema.fitko.de/fit-connect/events/problems/<name>`` and whose ``instance`` names the
part that failed (``submission``, ``metadata``, ``data``, ``attachment:<attachmentId>``); "type und
instance MÜSSEN vom Subscriber exakt übernommen werden", the title SHOULD be the documented one.
Only names from that catalogue are used here (README, FIT-Connect section, lists which ones and
what is assumed about them).
"""

from __future__ import annotations

from dataclasses import dataclass

from ozgbridge.errors import IntakeRejected

PROBLEM_PREFIX = "https://schema.fitko.de/fit-connect/events/problems/"

SUBMISSION = "submission"
METADATA = "metadata"
DATA = "data"


def attachment(attachment_id: str) -> str:
    """The ``instance`` naming one attachment."""
    return f"attachment:{attachment_id}"


@dataclass(frozen=True)
class Problem:
    name: str
    title: str  # the catalogue's German title, sent as documented

    @property
    def type(self) -> str:
        return PROBLEM_PREFIX + self.name


ENCRYPTION_ISSUE = Problem("encryption-issue", "Entschlüsselungs-Fehler")
SYNTAX_VIOLATION = Problem("syntax-violation", "Syntax-Fehler")
SCHEMA_VIOLATION = Problem("schema-violation", "Schema-Fehler")
UNSUPPORTED_METADATA_SCHEMA = Problem(
    "unsupported-metadata-schema", "Metadatenschema nicht unterstützt"
)
MISSING_DATA = Problem("missing-data", "Fachdaten fehlen")
MISSING_SCHEMA = Problem("missing-schema", "Schema-Referenz fehlt")
UNSUPPORTED_SCHEMA = Problem("unsupported-schema", "Fachdatenschema nicht unterstützt")
HASH_MISMATCH = Problem("hash-mismatch", "Prüfsumme stimmt nicht")
ATTACHMENTS_MISMATCH = Problem("attachments-mismatch", "Fehlerhafte Anlagen-Liste")
SERVICE_MISMATCH = Problem("service-mismatch", "Verwaltungsleistung stimmt nicht überein")
UNSUPPORTED_SERVICE = Problem("unsupported-service", "Verwaltungsleistung nicht unterstützt")
INVALID_EVENT_LOG = Problem("invalid-event-log", "Inkonsistenter Event-Log")
MISSING_AUTHENTICATION_TAGS = Problem("missing-authentication-tags", "Authentication-Tags fehlen")
INCORRECT_AUTHENTICATION_TAG = Problem(
    "incorrect-authentication-tag", "Authentication-Tag ungültig"
)
TECHNICAL_ERROR = Problem("technical-error", "Technischer Fehler")

CATALOGUE = {
    p.name: p
    for p in (
        ENCRYPTION_ISSUE,
        SYNTAX_VIOLATION,
        SCHEMA_VIOLATION,
        UNSUPPORTED_METADATA_SCHEMA,
        MISSING_DATA,
        MISSING_SCHEMA,
        UNSUPPORTED_SCHEMA,
        HASH_MISMATCH,
        ATTACHMENTS_MISMATCH,
        SERVICE_MISMATCH,
        UNSUPPORTED_SERVICE,
        INVALID_EVENT_LOG,
        MISSING_AUTHENTICATION_TAGS,
        INCORRECT_AUTHENTICATION_TAG,
        TECHNICAL_ERROR,
    )
}


class Rejection(IntakeRejected):
    """The submission cannot be processed: one catalogue problem, the part it names, and a
    ``detail`` that names ids and places only (it goes to the sender, logs and the audit log)."""

    def __init__(self, problem: Problem, instance: str, detail: str) -> None:
        super().__init__(detail)
        self.problem = problem
        self.instance = instance
        self.detail = detail

    def as_problem(self) -> dict[str, str]:
        return {
            "type": self.problem.type,
            "title": self.problem.title,
            "detail": self.detail,
            "instance": self.instance,
        }
