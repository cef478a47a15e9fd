"""The audit chain's hashed format: each event's document as canonical JSON, and the link.

``hash = HMAC-SHA-256(audit key, prev_hash + canonical_json(keyed_document(event_document(…))))``
(plain SHA-256 for events from before keys). Verification recomputes exactly this, so a change
here breaks every stored chain; appends write the same text faster with `document_json`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ozgbridge.audit_keys import AuditKey


@dataclass(frozen=True)
class AuditEvent:
    actor: str
    action: str
    tenant_id: str | None = None
    application_id: str | None = None
    delivery_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


# What json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False) builds per
# call; made once, the same text comes out (two encodings per event, on every append).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    return _CANONICAL.encode(value)


def event_document(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    tenant_id: str | None,
    application_id: str | None,
    delivery_id: str | None,
    details: Mapping[str, Any],
) -> dict[str, Any]:
    """The exact fields the hash covers."""
    return {
        "seq": seq,
        "at": at.isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "tenant_id": tenant_id,
        "application_id": application_id,
        "delivery_id": delivery_id,
        "details": dict(details),
    }


def chain_hash(prev_hash: str, document: Mapping[str, Any], key: AuditKey | None = None) -> str:
    """The link to ``prev_hash``: HMAC-SHA-256 under ``key``, or plain SHA-256 without one."""
    return link(prev_hash, canonical_json(document), key)


def link(prev_hash: str, document_json: str, key: AuditKey | None) -> str:
    """`chain_hash` of a document already written as canonical JSON."""
    message = (prev_hash + document_json).encode("utf-8")
    if key is None:
        return hashlib.sha256(message).hexdigest()
    # The one-shot form: the same HMAC, without building an HMAC object per event.
    return hmac.digest(key.secret, message, "sha256").hex()


def keyed_document(document: dict[str, Any], key_id: str | None) -> dict[str, Any]:
    """What a keyed event's hash covers: its fields and the id of its key."""
    return document if key_id is None else {**document, "key_id": key_id}


# canonical_json(keyed_document(event_document(...))) written out in its sorted key order, for
# events whose fields have their declared types: each value is written as the encoder writes it
# (strings through the very function it uses), and the details' JSON is the text stored in their
# column — not encoded a second time inside the document, and no sorting per event.
_encode_string = json.encoder.encode_basestring
_KEYED = (
    '{"action":%s,"actor":%s,"application_id":%s,"at":%s,"delivery_id":%s,"details":%s,'
    '"key_id":%s,"seq":%d,"tenant_id":%s}'
)
_UNKEYED = (
    '{"action":%s,"actor":%s,"application_id":%s,"at":%s,"delivery_id":%s,"details":%s,'
    '"seq":%d,"tenant_id":%s}'
)


def _text_json(value: object) -> str | None:
    """The JSON of a str or None; None for any other value (the encoder then decides)."""
    if value is None:
        return "null"
    return _encode_string(value) if type(value) is str else None


def document_json(
    event: AuditEvent,
    *,
    seq: int,
    at: datetime,
    at_text: str,
    details_json: str,
    key_id: str | None,
) -> str:
    """``canonical_json(keyed_document(event_document(...)))`` of this event, faster."""
    texts = [
        _text_json(value)
        for value in (
            event.action,
            event.actor,
            event.application_id,
            at_text,
            event.delivery_id,
            event.tenant_id,
            key_id,
        )
    ]
    if None in texts or type(seq) is not int:
        document = event_document(
            seq=seq,
            at=at,
            actor=event.actor,
            action=event.action,
            tenant_id=event.tenant_id,
            application_id=event.application_id,
            delivery_id=event.delivery_id,
            details=event.details,
        )
        return canonical_json(keyed_document(document, key_id))
    action, actor, application_id, at_json, delivery_id, tenant_id, key = texts
    if key_id is None:
        values: tuple[object, ...] = (
            action,
            actor,
            application_id,
            at_json,
            delivery_id,
            details_json,
            seq,
            tenant_id,
        )
        return _UNKEYED % values
    values = (
        action,
        actor,
        application_id,
        at_json,
        delivery_id,
        details_json,
        key,
        seq,
        tenant_id,
    )
    return _KEYED % values
