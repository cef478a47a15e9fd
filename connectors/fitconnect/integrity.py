"""What the Zustelldienst says it received: the ``submit-submission`` event's authentication tags.

When a sender submits, the Zustelldienst writes ``submit-submission`` into the case's event log
with ``authenticationTags`` — the last part of each JWE it took: ``metadata``, ``data`` and
``attachments`` (attachment id → tag) (FITKO docs, "Ereignisse" and "Einreichung überprüfen";
FITKO's changelog "Zustelldienst 1.2.0": submit-submission carries additional information).
The subscriber compares them with what it downloaded before it believes anything: a swapped
ciphertext that still decrypts under the destination's key would otherwise pass unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.fitconnect import problems
from connectors.fitconnect.events import EventLog
from connectors.fitconnect.problems import Rejection


@dataclass(frozen=True)
class Tags:
    metadata: str
    data: str | None
    attachments: dict[str, str] = field(default_factory=dict)


def expected_tags(log: EventLog, *, announced: list[str], has_data: bool) -> Tags:
    """The tags of the verified ``submit-submission`` event; `Rejection` if it is missing,
    incomplete, or the log holds tokens that do not verify."""
    if log.refused:
        raise Rejection(
            problems.INVALID_EVENT_LOG,
            problems.SUBMISSION,
            f"{len(log.refused)} event(s) in the case's log do not verify",
        )
    event = log.submitted()
    if event is None:
        raise Rejection(
            problems.INVALID_EVENT_LOG, problems.SUBMISSION, "no submit-submission event in the log"
        )
    tags = event.payload.get("authenticationTags")
    if not isinstance(tags, dict) or not isinstance(tags.get("metadata"), str):
        raise Rejection(
            problems.MISSING_AUTHENTICATION_TAGS,
            problems.SUBMISSION,
            "submit-submission carries no authentication tags",
        )
    attachments = tags.get("attachments") or {}
    data = tags.get("data")
    if (
        not isinstance(attachments, dict)
        or set(attachments) != set(announced)
        or (has_data and not isinstance(data, str))
    ):
        raise Rejection(
            problems.MISSING_AUTHENTICATION_TAGS,
            problems.SUBMISSION,
            "submit-submission lacks tags for parts of the submission",
        )
    return Tags(
        metadata=tags["metadata"],
        data=data if isinstance(data, str) else None,
        attachments={str(k): str(v) for k, v in attachments.items()},
    )
