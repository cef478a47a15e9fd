"""The worker's lease renewal: what falls due, what one tick renews, what a lost lease does."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from ozgbridge.domain import utcnow
from ozgbridge.lease_keeper import LeaseKeeper, due_for_renewal

LEASE = 120.0


def test_a_lease_falls_due_once_a_third_of_it_has_run() -> None:
    now = utcnow()
    held = {
        "fresh": now + timedelta(seconds=LEASE),
        "just_within": now + timedelta(seconds=LEASE * 2 / 3 + 1),
        "third_gone": now + timedelta(seconds=LEASE * 2 / 3 - 1),
        "nearly_out": now + timedelta(seconds=1),
    }
    assert due_for_renewal(held, now, LEASE) == ["third_gone", "nearly_out"]


def test_ticks_renew_every_lease_before_it_runs_out() -> None:
    """Claimed at any moment between ticks, a lease is renewed with 5/12 of it still to run."""
    tick = LEASE / 4
    for claimed_after_tick in (0.0, 1.0, tick / 2, tick - 0.001):
        claimed_at = 1000.0 + claimed_after_tick
        expires = claimed_at + LEASE
        moment = 1000.0
        while True:
            moment += tick
            now = datetime.fromtimestamp(moment).astimezone()
            exp = datetime.fromtimestamp(expires).astimezone()
            if due_for_renewal({"d": exp}, now, LEASE):
                break
        assert expires - moment >= LEASE * 5 / 12 - 1e-6


class Store:
    def __init__(self, ours: set[str], *, fail: bool = False) -> None:
        self.ours = ours
        self.fail = fail
        self.calls: list[list[str]] = []

    async def renew(self, ids: list[str], until: datetime) -> Collection[str]:
        self.calls.append(sorted(ids))
        if self.fail:
            raise ConnectionError("database away")
        return [i for i in ids if i in self.ours]


async def test_one_tick_renews_all_due_leases_in_one_call() -> None:
    store = Store({"a", "b"})
    keeper = LeaseKeeper(store.renew, lease_seconds=LEASE, worker_id="w")
    soon = utcnow() + timedelta(seconds=5)
    keeper.hold("a", soon)
    keeper.hold("b", soon)
    keeper.hold("fresh", utcnow() + timedelta(seconds=LEASE))

    await keeper.renew_due()

    assert store.calls == [["a", "b"]]
    assert keeper.held["a"] > utcnow() + timedelta(seconds=LEASE - 5)
    await keeper.renew_due()  # nothing is due any more
    assert len(store.calls) == 1


async def test_a_lost_lease_is_no_longer_renewed() -> None:
    store = Store({"kept"})
    keeper = LeaseKeeper(store.renew, lease_seconds=LEASE, worker_id="w")
    soon = utcnow() + timedelta(seconds=5)
    keeper.hold("kept", soon)
    keeper.hold("taken_over", soon)

    await keeper.renew_due()

    assert set(keeper.held) == {"kept"}


async def test_a_failed_renewal_keeps_the_leases_for_the_next_tick() -> None:
    store = Store({"a"}, fail=True)
    keeper = LeaseKeeper(store.renew, lease_seconds=LEASE, worker_id="w")
    soon = utcnow() + timedelta(seconds=5)
    keeper.hold("a", soon)

    await keeper.renew_due()
    store.fail = False
    await keeper.renew_due()

    assert store.calls == [["a"], ["a"]]
    assert keeper.held["a"] > soon


async def test_a_released_lease_is_not_renewed() -> None:
    store = Store({"a"})
    keeper = LeaseKeeper(store.renew, lease_seconds=LEASE, worker_id="w")
    keeper.hold("a", utcnow() + timedelta(seconds=5))
    keeper.release("a")

    await keeper.renew_due()

    assert store.calls == []
