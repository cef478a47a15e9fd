"""Every error ozgbridge raises on purpose, grouped by what the caller must do about it.

::

    OzgbridgeError
    ├── ConfigError                 fix the configuration; nothing runs until then
    │   └── AuditKeyError           no usable audit key where one is needed (audit_keys)
    ├── InvalidValue                one value is wrong (also a ValueError, so pydantic validators
    │   │                           may raise it and get it reported at the field)
    │   ├── FieldValueError         … at a part below the field (configfile; list item, key)
    │   ├── SecretReferenceError    a ${env:…}/${file:…} reference cannot be resolved (secrets)
    │   ├── UnknownTenantError      a report asks for a tenant that does not exist; 422
    │   │                           (reporting.build)
    │   ├── GV100ADError            a line of the municipality directory file is no record
    │   │                           (regions.gv100ad)
    │   ├── InvalidStatusAnswer     a back-end's status document does not validate
    │   │                           (status_document)
    │   ├── RegionError             a key names no region (regions.consistency)
    │   └── MalformedForwardedFor   a trusted proxy's X-Forwarded-For is no address list
    │                               (api.clients)
    ├── NotFound                    no such thing, or none the caller may see (also a
    │   │                           LookupError); 404
    │   ├── UnknownRoute            … a configured route (operations)
    │   └── DeliveryNotFound        … a delivery (store.delivery_actions)
    ├── RoutingError                nobody (or several) is responsible; answer 422
    ├── SchemaOutdatedError         run `ozgbridge db upgrade` (or --upgrade)
    ├── DatabaseUnavailable         the database cannot be reached or used at start-up: which
    │                               one (password hidden) and why, in one line
    ├── GroupError                  `ozgbridge api --processes N` cannot share its port (taken,
    │                               or 0) (processes)
    ├── ReloadUnavailable           this process cannot read its configuration again (live)
    ├── PdfError                    the report could not be printed as PDF (reporting.render_pdf)
    ├── IdempotencyKeyTaken         a concurrent request stored its answer first; replay that one
    ├── AccessDenied                the API key may not see or do this; 403
    │   └── ScopeError              … a report for tenants outside the key's scope (api.reports)
    ├── CallbackRejected            a callback to an intake is not authentic; 401, reason logged
    ├── IntakeRejected              an intake refuses one incoming submission and tells its
    │                               sender why (plug-ins subclass it); nothing is stored
    ├── Problem                     an HTTP problem+json answer a handler chose (api.problems)
    ├── Denied                      a dashboard page answers with this response instead
    │                               (ui.ops_common: sign-in redirect, refusal page)
    ├── DataProtectionError         stored content cannot be sealed or opened
    │   ├── DataKeyError            the data key file is missing or malformed, or lacks a key
    │   │   └── UnknownDataKeyError stored content is sealed under a key id the file lacks
    │   ├── SealBrokenError         sealed content does not authenticate (altered, wrong key)
    │   └── ContentPurgedError      the content was deleted by retention; only metadata is left
    ├── ActionRefused               an operator action does not fit the current state; 409
    ├── EgressRefused               a connection outside the allowed networks, never attempted
    │                               (also an OSError; egress)
    ├── BudgetExhausted             memory for request bodies did not free up in time; 503
    │                               (membudget)
    └── DeliveryError               raised by connectors (and by the store for an envelope whose
        │                           content cannot be opened)
        ├── RetriableDeliveryError  try later (timeouts, connection errors, 5xx, 408, 425, 429)
        └── PermanentDeliveryError  trying again cannot help (other 4xx, 3xx, rejected content)

Connectors translate their library's exceptions into `DeliveryError` subclasses in one place,
with ``raise … from exc``, so the worker never has to know about aiohttp, smtplib or asyncssh.
Plug-ins root their own errors here too (usually under `InvalidValue` or `IntakeRejected`).
Errors defined elsewhere (their module in parentheses) live next to the code that raises them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Severity = Literal["error", "warning"]


class OzgbridgeError(Exception):
    """Root of every error ozgbridge raises deliberately."""


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the configuration, located precisely enough to fix it.

    A ``warning`` is worth a look but does not stop the configuration from being used (a LeiKa
    key a newer catalogue may know, a name that differs from the official one).
    """

    file: str
    field: str
    message: str
    line: int | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        label = "warning" if self.severity == "warning" else ""
        parts = [part for part in (where, label, self.field, self.message) if part]
        return ": ".join(parts)


class ConfigError(OzgbridgeError):
    """The configuration (settings, tenants, routes, keys) cannot be used.

    ``problems`` are the errors; ``warnings`` what else was found on the way, so a report of the
    errors can show them too.
    """

    def __init__(
        self, problems: list[ConfigProblem] | str, warnings: Sequence[ConfigProblem] = ()
    ) -> None:
        if isinstance(problems, str):
            problems = [ConfigProblem(file="", field="", message=problems)]
        self.problems = problems
        self.warnings = list(warnings)
        super().__init__("\n".join(str(p) for p in problems))


class InvalidValue(OzgbridgeError, ValueError):
    """One value (a field, a reference, a request parameter) is not acceptable.

    Also a `ValueError`: raised inside a pydantic validator it becomes that field's error.
    """


class NotFound(OzgbridgeError, LookupError):
    """No such thing, or none the caller may see; answered 404 (never telling which)."""


class RoutingError(OzgbridgeError):
    """No tenant is responsible for a (service, region), or the answer is ambiguous."""

    def __init__(self, message: str, *, leika_key: str, region: str) -> None:
        self.leika_key = leika_key
        self.region = region
        super().__init__(message)


class SchemaOutdatedError(OzgbridgeError):
    """The database schema is not the one this code needs."""


class DatabaseUnavailable(OzgbridgeError):
    """The database cannot be reached or used (refused, unknown database or role, wrong
    password); the message names it, password hidden (`store.engine.unusable`)."""


class IdempotencyKeyTaken(OzgbridgeError):
    """Another request stored an answer for this Idempotency-Key first (a concurrent retry)."""


class AccessDenied(OzgbridgeError):
    """The API key's role or tenant does not allow this; answered 403."""


class CallbackRejected(OzgbridgeError):
    """A callback that could not be authenticated; answered 401, the reason only logged."""


class IntakeRejected(OzgbridgeError):
    """An intake cannot take one incoming submission; it answers its sender, stores nothing."""


class DataProtectionError(OzgbridgeError):
    """Stored form data or attachments cannot be sealed or opened."""


class DataKeyError(DataProtectionError):
    """The data keys (``OZGBRIDGE_DATA_KEYS``) are missing, malformed or incomplete."""


class UnknownDataKeyError(DataKeyError):
    """Content is sealed under a key id the configured key file does not hold."""

    def __init__(self, key_id: str, message: str) -> None:
        self.key_id = key_id
        super().__init__(message)


class SealBrokenError(DataProtectionError):
    """Sealed content does not authenticate: altered, moved to another row, or another key."""


class ContentPurgedError(DataProtectionError):
    """The application's content was deleted by retention (its metadata is kept)."""

    def __init__(self, application_id: str, purged_at: datetime) -> None:
        self.application_id = application_id
        self.purged_at = purged_at
        super().__init__(
            f"the content of application {application_id} was purged at "
            f"{purged_at.isoformat(timespec='seconds')} (retention); only its metadata is kept"
        )


class ActionRefused(OzgbridgeError):
    """An operator action (replay, cancel, …) that the subject's current state does not allow."""

    def __init__(self, message: str, *, state: str | None = None) -> None:
        self.state = state
        super().__init__(message)


class DeliveryError(OzgbridgeError):
    """A connector could not hand an envelope over.

    ``status_code`` is the back-end's answer where there was one; ``detail`` a short,
    non-personal description that lands in the attempt row and the audit log.
    ``response_excerpt`` is the start of the back-end's answer (at most 1 KB of text) for the
    people who fix the problem: it is kept in the attempt row and shown through the API, but it
    may contain personal data, so it is never logged, audited or part of ``str(error)``.
    """

    retriable: bool = False

    def __init__(
        self,
        detail: str,
        *,
        status_code: int | None = None,
        response_excerpt: str | None = None,
    ) -> None:
        self.detail = detail
        self.status_code = status_code
        self.response_excerpt = response_excerpt
        super().__init__(detail)


class RetriableDeliveryError(DeliveryError):
    """Worth trying again later; ``retry_after`` (seconds) is the back-end's wish, if any."""

    retriable = True

    def __init__(
        self,
        detail: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        response_excerpt: str | None = None,
    ) -> None:
        super().__init__(detail, status_code=status_code, response_excerpt=response_excerpt)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """Trying again cannot help; the delivery goes dead at once and waits for a human."""
