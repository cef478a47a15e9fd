"""Which deliveries may be replayed or cancelled."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ozgbridge.domain import DeliveryState
from ozgbridge.ops.actions import DeliveryFacts, refuse_cancel, refuse_replay


def facts(state: DeliveryState) -> DeliveryFacts:
    return DeliveryFacts(id="d", state=state)


@pytest.mark.parametrize("state", [DeliveryState.DEAD, DeliveryState.CANCELLED])
def test_dead_and_cancelled_replay(state: DeliveryState) -> None:
    assert refuse_replay(facts(state)) is None


def test_delivered_replays_only_with_force() -> None:
    refusal = refuse_replay(facts(DeliveryState.DELIVERED))
    assert refusal is not None
    assert "force" in str(refusal)
    assert refuse_replay(facts(DeliveryState.DELIVERED), force=True) is None


@pytest.mark.parametrize("state", [DeliveryState.PENDING, DeliveryState.DELIVERING])
def test_unfinished_never_replay_even_with_force(state: DeliveryState) -> None:
    assert refuse_replay(facts(state)) is not None
    assert refuse_replay(facts(state), force=True) is not None


def test_cancel_everything_but_delivered_and_cancelled() -> None:
    for state in (DeliveryState.PENDING, DeliveryState.DELIVERING, DeliveryState.DEAD):
        assert refuse_cancel(facts(state)) is None
    assert refuse_cancel(facts(DeliveryState.DELIVERED)) is not None
    assert refuse_cancel(facts(DeliveryState.CANCELLED)) is not None


def test_purged_content_refuses_every_replay_even_forced() -> None:
    purged = DeliveryFacts(
        id="d", state=DeliveryState.DEAD, content_purged_at=datetime(2026, 12, 1, tzinfo=UTC)
    )
    for force in (False, True):
        refusal = refuse_replay(purged, force=force)
        assert refusal is not None
        assert "deleted at 2026-12-01T00:00:00Z (retention)" in str(refusal)
