"""Builders for stored test data (store level; connector envelopes: ozgbridge.testing)."""

from __future__ import annotations

from typing import Any

from ozgbridge.domain import RegionRef
from ozgbridge.ids import new_id
from ozgbridge.store.records import NewApplication, NewAttachment


def new_application(**overrides: Any) -> NewApplication:
    values: dict[str, Any] = {
        "id": new_id(),
        "delivery_id": new_id(),
        "tenant_id": "erkelenz",
        "route_id": "gewerbe",
        "connector": "filedrop",
        "routing_reason": "own",
        "leika_key": "99050012104000",
        "service_name": "Gewerbeanmeldung",
        "region": RegionRef.of(ags="05370004"),
        "reference": "HS-1",
        "submitted_by": "portal-test",
        "data_mime_type": "application/json",
        "data_schema_uri": None,
        "data": b'{"betrieb": "Testbetrieb"}',
        "attachments": (
            NewAttachment(
                id=new_id(),
                filename="nachweis.pdf",
                mime_type="application/pdf",
                purpose="attachment",
                content=b"%PDF-1.4 test",
            ),
        ),
    }
    values.update(overrides)
    return NewApplication(**values)
