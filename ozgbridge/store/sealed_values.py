"""How many stored values each data key sealed: what ``ozgbridge data-keys usage`` shows, so an
operator knows when a key may leave the key file (none left under it) and whether anything is
sealed under a key the file lacks (it cannot be opened).

A value counts while it is there: retention empties the content columns and keeps the rows
(`ozgbridge.store.purge`), so a purged application's form data and attachments, and purged
answers, notes and event bodies, count under no key.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.store.tables import (
    applications,
    attachments,
    attempts,
    portal_events,
    status_history,
)


def _counted(
    key: ColumnElement[str | None], *where: ColumnElement[bool]
) -> Select[tuple[str | None, int]]:
    return select(key, func.count()).where(*where).group_by(key)


# Form data; attachments (content and file name); back-ends' answers; status notes; portal
# event bodies.
_QUERIES: dict[str, Select[tuple[str | None, int]]] = {
    "form data": _counted(applications.c.data_key_id, applications.c.content_purged_at.is_(None)),
    "files": _counted(
        attachments.c.key_id,
        attachments.c.application_id == applications.c.id,
        applications.c.content_purged_at.is_(None),
    ),
    "answers": _counted(attempts.c.response_key_id, attempts.c.response_excerpt.is_not(None)),
    "notes": _counted(status_history.c.note_key_id, status_history.c.note.is_not(None)),
    "events": _counted(portal_events.c.body_key_id, portal_events.c.body.is_not(None)),
}
KINDS = tuple(_QUERIES)  # in the order of the table's columns


@dataclass
class SealedValues:
    """Values stored, by data key id (None: in plaintext), by kind (`KINDS`)."""

    by_key: dict[str | None, Counter[str]] = field(default_factory=dict)

    def total(self, key_id: str | None) -> int:
        return sum(self.by_key.get(key_id, Counter()).values())


async def sealed_values(engine: AsyncEngine) -> SealedValues:
    found = SealedValues()
    async with engine.connect() as conn:
        for kind, query in _QUERIES.items():
            for key_id, count in (await conn.execute(query)).all():
                found.by_key.setdefault(key_id, Counter())[kind] += count
    return found
