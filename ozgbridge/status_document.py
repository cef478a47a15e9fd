"""The status document: the body of ``POST /v1/applications/{id}/status`` — and what an http
back-end may answer a delivery with, which counts as its first status report.

Core, not API: the http connector reads the same document from its back-end's answers.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ozgbridge.domain import AGS, ARS, CamelModel, RegionRef, exactly_one_of
from ozgbridge.errors import InvalidValue
from ozgbridge.status_rules import (
    MAX_FILE_REFERENCE_CHARS,
    MAX_NOTE_CHARS,
    ProcessingStatus,
    StatusReport,
    note_problem,
)

# The fields of the document; an answer may hold others (an id, a reference) beside them.
FIELDS = ("status", "note", "fileReference", "forwardTo")


def _note(value: str) -> str:
    problem = note_problem(value)
    if problem is not None:
        raise PydanticCustomError("note", problem)
    return value


def _single_line(value: str) -> str:
    for char in value:
        if unicodedata.category(char) == "Cc":
            raise PydanticCustomError(
                "control_character",
                "must not contain control characters (found U+{code})",
                {"code": f"{ord(char):04X}"},
            )
    return value


NoteText = Annotated[
    str,
    AfterValidator(_note),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_NOTE_CHARS,
            "description": "text for the applicant; line breaks allowed, no other control "
            "characters. Personal data: stored and shown, never logged or audited",
        }
    ),
]
FileReference = Annotated[str, AfterValidator(_single_line)]


class ForwardTo(CamelModel):
    """The region whose responsible authority should get the application: ARS or AGS."""

    model_config = ConfigDict(
        json_schema_extra=exactly_one_of(ars={"type": "string"}, ags={"type": "string"})
    )

    ars: ARS | None = None
    ags: AGS | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ForwardTo:
        if (self.ars is None) == (self.ags is None):
            raise PydanticCustomError("region", "give exactly one of ars and ags")
        return self

    def to_ref(self) -> RegionRef:
        return RegionRef.of(ars=self.ars, ags=self.ags)


class StatusIn(CamelModel):
    """A processing status reported by the authority the application is with.

    Codes: confirmed (Eingang bestätigt), in_progress, information_required (Rückfrage,
    Nachforderung), completed (beschieden, abgeschlossen), rejected, withdrawn, not_responsible
    (Unzuständigkeit: ozgbridge forwards the application). An http back-end may answer a
    delivery with this document in its 2xx body (other fields beside it are ignored).
    """

    status: ProcessingStatus
    note: NoteText | None = Field(default=None, min_length=1)
    file_reference: FileReference | None = Field(
        default=None, min_length=1, max_length=MAX_FILE_REFERENCE_CHARS, description="Aktenzeichen"
    )
    forward_to: ForwardTo | None = Field(
        default=None,
        description="only with not_responsible: the region whose responsible authority gets it; "
        "without, routing looks again, passing over every authority that already had it",
    )

    @model_validator(mode="after")
    def _forward_only_when_not_responsible(self) -> StatusIn:
        if self.forward_to is not None and self.status is not ProcessingStatus.NOT_RESPONSIBLE:
            raise PydanticCustomError("forward_to", "forwardTo is only for status not_responsible")
        return self

    def to_report(self) -> StatusReport:
        return StatusReport(
            status=self.status,
            note=self.note,
            file_reference=self.file_reference,
            forward_to=self.forward_to.to_ref() if self.forward_to else None,
        )


class InvalidStatusAnswer(InvalidValue):
    """An answer's status document does not validate; ``fields`` names where (never values)."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__(f"invalid status document ({', '.join(fields)})")
        self.fields = fields


def report_in_answer(document: Any) -> StatusReport | None:
    """The status report in a back-end's JSON answer: None when it carries no ``status``,
    `InvalidStatusAnswer` when it carries one that does not validate."""
    if not isinstance(document, Mapping) or "status" not in document:
        return None
    try:
        status_in = StatusIn.model_validate(
            {k: document[k] for k in FIELDS if k in document}, by_name=False
        )
    except ValidationError as exc:
        fields = [".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()]
        raise InvalidStatusAnswer(fields) from None
    return status_in.to_report()
