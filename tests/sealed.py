"""Reading stored content in tests: the raw (sealed) rows, and what they open to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.dataprotection.sealing import (
    Sealer,
    application_data_aad,
    attachment_content_aad,
    attachment_filename_aad,
    attempt_response_aad,
)
from ozgbridge.store.tables import applications, attachments


@dataclass(frozen=True)
class Stored:
    """One application's content columns as stored, and opened with ``sealer``."""

    raw_data: bytes
    data_key_id: str | None
    data: bytes
    raw_attachments: list[tuple[bytes, bytes, str | None]]  # filename, content, key id
    attachments: list[tuple[str, bytes]]  # filename, content; in order


async def stored(engine: AsyncEngine, sealer: Sealer, application_id: str) -> Stored:
    async with engine.connect() as conn:
        app = (
            await conn.execute(
                select(applications.c.data, applications.c.data_key_id).where(
                    applications.c.id == application_id
                )
            )
        ).one()
        files = (
            await conn.execute(
                select(attachments)
                .where(attachments.c.application_id == application_id)
                .order_by(attachments.c.position)
            )
        ).all()
    return Stored(
        raw_data=app.data,
        data_key_id=app.data_key_id,
        data=sealer.open(app.data, app.data_key_id, application_data_aad(application_id), what="t"),
        raw_attachments=[(f.filename, f.content, f.key_id) for f in files],
        attachments=[
            (
                sealer.open(f.filename, f.key_id, attachment_filename_aad(f.id), what="t").decode(),
                sealer.open(f.content, f.key_id, attachment_content_aad(f.id), what="t"),
            )
            for f in files
        ],
    )


def excerpt(sealer: Sealer, attempt: Any) -> str | None:
    """An attempt row's stored back-end answer, opened."""
    if attempt.response_excerpt is None:
        return None
    aad = attempt_response_aad(attempt.delivery_id, attempt.number)
    return sealer.open(attempt.response_excerpt, attempt.response_key_id, aad, what="t").decode()
