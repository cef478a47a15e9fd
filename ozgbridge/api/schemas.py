"""The body a portal submits (ApplicationIn) and the field types it is built from; the OpenAPI
document is generated from these. The answers are in `schemas_out`.

Checks that need no database or configuration live here as validators, so every field error comes
out of one pydantic ValidationError with its location, and the OpenAPI schema shows them.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    JsonValue,
    PlainValidator,
    PrivateAttr,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ozgbridge.domain import (
    AGS,
    ARS,
    AttachmentPurpose,
    CamelModel,
    LeikaKey,
    RegionRef,
    exactly_one_of,
)
from ozgbridge.regions import default_directory
from ozgbridge.regions.consistency import RegionError, ars_for_ags, check_ars

MAX_FILENAME_BYTES = 255
# Bidirectional overrides can make "rechnung\u202efdp.exe" display as "rechnungexe.pdf".
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Unicode's control characters (category Cc: U+0000–U+001F, U+007F–U+009F) and the bidi
# controls, as one character class: a search in C instead of a category lookup per character.
_FORBIDDEN_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f" + "".join(sorted(_BIDI_CONTROLS)) + "]")
_MIME_NAME = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
# Parameters in visible ASCII only: connectors pass MIME types on in HTTP and mail headers.
_MIME_PATTERN = rf"^{_MIME_NAME}/{_MIME_NAME}( *; *[\x21-\x3a\x3c-\x7e][\x20-\x3a\x3c-\x7e]*)*$"
_MIME = re.compile(_MIME_PATTERN)
MAX_MIME_TYPE_LENGTH = 200


def _strict_base64(value: Any, info: ValidationInfo) -> bytes:
    # A large body's base64 was decoded as it streamed by (api/extract.py); its place holds a
    # token only that request knows.
    spooled = (info.context or {}).get("spooled")
    if spooled and isinstance(value, str) and value in spooled:
        content: bytes = spooled[value]
        return content
    if not isinstance(value, str):
        raise PydanticCustomError("base64_type", "must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as exc:  # binascii.Error, or non-ASCII text
        raise PydanticCustomError(
            "base64", "is not valid base64 ({reason})", {"reason": str(exc)}
        ) from None


def _mime_type(value: str) -> str:
    # fullmatch: with match, the pattern's `$` would let a trailing line break through.
    if len(value) > MAX_MIME_TYPE_LENGTH or not _MIME.fullmatch(value):
        raise PydanticCustomError(
            "mime_type", "is not a MIME type like application/pdf (type/subtype[; parameters])"
        )
    return value


def _no_control_characters(value: str) -> str:
    # PostgreSQL cannot store NUL in text, and no name or reference needs a control character.
    found = _FORBIDDEN_CHARACTER.search(value)
    if found is not None:
        raise PydanticCustomError(
            "control_character",
            "must not contain control characters (found U+{code})",
            {"code": f"{ord(found[0]):04X}"},
        )
    return value


def _filename(value: str) -> str:
    """A name for a file, never a path: it may end up on a file share or in an archive."""
    if not value:
        raise PydanticCustomError("filename", "must not be empty")
    if value in (".", ".."):
        raise PydanticCustomError("filename", "must not be '.' or '..'")
    if "/" in value or "\\" in value:
        raise PydanticCustomError("filename", "must not contain '/' or '\\' (a name, not a path)")
    _no_control_characters(value)
    size = len(value.encode("utf-8"))
    if size > MAX_FILENAME_BYTES:
        raise PydanticCustomError(
            "filename",
            "must be at most {limit} bytes in UTF-8 (is {size})",
            {"limit": MAX_FILENAME_BYTES, "size": size},
        )
    return value


PlainText = Annotated[str, AfterValidator(_no_control_characters)]
Base64Content = Annotated[
    bytes,
    PlainValidator(_strict_base64),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]
Filename = Annotated[
    str,
    AfterValidator(_filename),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "description": "a file name without '/', '\\', control characters; ≤255 bytes UTF-8",
        }
    ),
]
MimeType = Annotated[
    str,
    AfterValidator(_mime_type),
    WithJsonSchema({"type": "string", "maxLength": MAX_MIME_TYPE_LENGTH, "pattern": _MIME_PATTERN}),
]


def is_json_mime_type(mime_type: str) -> bool:
    base = mime_type.split(";", 1)[0].strip().lower()
    return base == "application/json" or (
        base.startswith("application/") and base.endswith("+json")
    )


# --- requests ---------------------------------------------------------------------------------


class ServiceIn(CamelModel):
    leika_key: LeikaKey
    name: PlainText | None = Field(default=None, max_length=500)


class RegionIn(CamelModel):
    """Where the application belongs: exactly one of ARS (preferred) or AGS.

    Either must name a region that exists — all twelve digits of an ARS, Gemeindeverband part
    included (`ozgbridge.regions.consistency`, against the shipped municipality directory).
    """

    model_config = ConfigDict(
        json_schema_extra=exactly_one_of(ars={"type": "string"}, ags={"type": "string"})
    )

    ars: ARS | None = None
    ags: AGS | None = None

    _ars_of_ags: str | None = PrivateAttr(default=None)

    @field_validator("ars")
    @classmethod
    def _ars_exists(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                check_ars(value, default_directory())
            except RegionError as exc:
                raise PydanticCustomError("region", str(exc)) from None
        return value

    @field_validator("ags")
    @classmethod
    def _ags_exists(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ars_for_ags(value, default_directory())
            except RegionError as exc:
                raise PydanticCustomError("region", str(exc)) from None
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> RegionIn:
        if (self.ars is None) == (self.ags is None):
            raise PydanticCustomError("region", "give exactly one of ars and ags")
        if self.ags is not None:
            self._ars_of_ags = ars_for_ags(self.ags, default_directory())
        return self

    def to_ref(self) -> RegionRef:
        ars_of_ags = self._ars_of_ags  # read once: pydantic's private attributes are slow to read
        if self.ags is not None and ars_of_ags is not None:
            return RegionRef(ars=ars_of_ags, ags=self.ags)
        return RegionRef.of(ars=self.ars, ags=self.ags)


# What json.dumps(..., ensure_ascii=False, separators=(",", ":"), allow_nan=False) builds per call;
# made once, the same bytes come out (the stored form data and its hash).
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class DataIn(CamelModel):
    """The form content (Fachdaten): exactly one of ``content`` (JSON inline, JSON mime types
    only) and ``contentBase64`` (anything)."""

    model_config = ConfigDict(
        json_schema_extra=exactly_one_of(
            content={"not": {"type": "null"}}, contentBase64={"type": "string"}
        )
    )

    mime_type: MimeType
    schema_uri: PlainText | None = Field(default=None, min_length=1, max_length=500)
    content: JsonValue = Field(default=None, description="JSON form data (JSON mime types only)")
    content_base64: Base64Content | None = None

    _payload: bytes = PrivateAttr(default=b"")

    @model_validator(mode="after")
    def _exactly_one_content(self) -> DataIn:
        if (self.content is None) == (self.content_base64 is None):
            raise PydanticCustomError(
                "data_content", "give exactly one of content and contentBase64"
            )
        if self.content_base64 is not None:
            self._payload = self.content_base64
            return self
        if not is_json_mime_type(self.mime_type):
            raise PydanticCustomError(
                "data_content",
                "content is only for JSON mime types; send {mime_type} as contentBase64",
                {"mime_type": self.mime_type},
            )
        try:
            text = _COMPACT_JSON.encode(self.content)
        except ValueError:
            raise PydanticCustomError(
                "data_content", "content must not contain NaN or Infinity (not JSON)"
            ) from None
        self._payload = text.encode("utf-8")
        return self

    @property
    def payload(self) -> bytes:
        """The bytes stored and delivered: compact UTF-8 JSON, or the decoded base64."""
        return self._payload


class AttachmentIn(CamelModel):
    filename: Filename
    mime_type: MimeType
    purpose: AttachmentPurpose = "attachment"
    content_base64: Base64Content


class ApplicationIn(CamelModel):
    """An online application (Antrag) as the Serviceportal submits it."""

    service: ServiceIn
    region: RegionIn
    reference: PlainText | None = Field(
        default=None, min_length=1, max_length=200, description="the portal's case number"
    )
    data: DataIn
    attachments: list[AttachmentIn] = Field(
        default_factory=list, description="at most OZGBRIDGE_MAX_ATTACHMENTS entries"
    )

    @field_validator("attachments", mode="before")
    @classmethod
    def _not_too_many(cls, value: Any, info: ValidationInfo) -> Any:
        # Checked before the items are decoded, so an oversized list costs nothing.
        limit = (info.context or {}).get("max_attachments")
        if limit is not None and isinstance(value, list) and len(value) > limit:
            raise PydanticCustomError(
                "too_many_attachments",
                "at most {limit} attachments are allowed per application (got {count})",
                {"limit": limit, "count": len(value)},
            )
        return value
