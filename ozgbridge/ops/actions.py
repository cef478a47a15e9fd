"""Whether a replay or a cancel may happen to a delivery: decided from its facts, nothing else.

Single replays, bulk replays, the API, the CLI and the dashboard all ask `refuse_replay` /
`refuse_cancel`, so there is one place that says no. Replay keeps the delivery id (back-ends drop
duplicates by it) and restarts the retry ladder; attempt numbers continue, so an attempt's number
stays unique and its history readable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ozgbridge.domain import DeliveryState
from ozgbridge.errors import ActionRefused

REPLAYABLE = frozenset({DeliveryState.DEAD, DeliveryState.CANCELLED})
# What a bulk replay may select by: only states a replay is meant for.
BULK_REPLAY_STATES = REPLAYABLE


@dataclass(frozen=True)
class DeliveryFacts:
    """What an action decision may look at."""

    id: str
    state: DeliveryState
    # When retention deleted the application's content (see ozgbridge.dataprotection.purge).
    content_purged_at: datetime | None = None


def refuse_replay(facts: DeliveryFacts, *, force: bool = False) -> ActionRefused | None:
    """None if ``facts`` may be replayed, else the refusal (answered 409)."""
    if facts.content_purged_at is not None:
        when = facts.content_purged_at.isoformat(timespec="seconds").replace("+00:00", "Z")
        return ActionRefused(
            f"the application's form data and attachments were deleted at {when} (retention): "
            "there is nothing left to deliver",
            state=facts.state,
        )
    if facts.state in REPLAYABLE:
        return None
    if facts.state is DeliveryState.DELIVERED:
        if force:
            return None
        return ActionRefused(
            "the delivery was delivered; replay it anyway with force", state=facts.state
        )
    return ActionRefused(
        f"the delivery is {facts.state}: it will be attempted anyway; replay is for dead, "
        "cancelled or (with force) delivered deliveries",
        state=facts.state,
    )


def refuse_cancel(facts: DeliveryFacts) -> ActionRefused | None:
    if facts.state is DeliveryState.DELIVERED:
        return ActionRefused("the delivery was delivered already", state=facts.state)
    if facts.state is DeliveryState.CANCELLED:
        return ActionRefused("the delivery is cancelled already", state=facts.state)
    return None
