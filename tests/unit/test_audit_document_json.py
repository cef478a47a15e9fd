"""The audit append writes each event's hashed document itself: byte for byte what
``canonical_json(keyed_document(event_document(...)))`` writes, which verification recomputes."""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ozgbridge.store.audit_format import (
    AuditEvent,
    canonical_json,
    document_json,
    event_document,
    keyed_document,
)

_CHARS = string.printable + 'äöüß€\u2028\u2029\x00\x1f\x7f"\\/\u202e😀'


def expected(event: AuditEvent, seq: Any, at: datetime, key_id: Any) -> str:
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


def written(event: AuditEvent, seq: Any, at: datetime, key_id: Any) -> str:
    return document_json(
        event,
        seq=seq,
        at=at,
        at_text=at.isoformat(timespec="microseconds"),
        details_json=canonical_json(dict(event.details)),
        key_id=key_id,
    )


def test_random_events_are_written_as_the_encoder_writes_them() -> None:
    rnd = random.Random(20261207)

    def text() -> str:
        return "".join(rnd.choice(_CHARS) for _ in range(rnd.randint(0, 12)))

    def maybe() -> str | None:
        return None if rnd.random() < 0.3 else text()

    for _ in range(3000):
        event = AuditEvent(
            actor=text(),
            action=text(),
            tenant_id=maybe(),
            application_id=maybe(),
            delivery_id=maybe(),
            details={
                text(): rnd.choice([1, text(), None, 2.5, True, [1, "x"], {"a": text()}])
                for _ in range(rnd.randint(0, 4))
            },
        )
        at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=rnd.randint(0, 10**12))
        seq = rnd.randint(1, 2**62)
        key_id = rnd.choice([None, "k1", text()])
        assert written(event, seq, at, key_id) == expected(event, seq, at, key_id)


@pytest.mark.parametrize(
    ("event", "seq", "key_id"),
    [
        (AuditEvent(actor=7, action="a"), 1, "k1"),  # type: ignore[arg-type]
        (AuditEvent(actor="a", action="b", tenant_id=3.5), 1, None),  # type: ignore[arg-type]
        (AuditEvent(actor="a", action="b"), True, "k1"),
        (AuditEvent(actor="a", action="b"), 2, 5),
    ],
)
def test_fields_of_other_types_than_declared_are_left_to_the_encoder(
    event: AuditEvent, seq: Any, key_id: Any
) -> None:
    at = datetime(2026, 12, 7, 1, 2, 3, 456789, tzinfo=UTC)
    assert written(event, seq, at, key_id) == expected(event, seq, at, key_id)
