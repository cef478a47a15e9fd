"""The circuit breaker's transitions, one event at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ozgbridge.ops.breaker import (
    Admission,
    Breaker,
    BreakerState,
    Verdict,
    admission,
    after_attempt,
    start_probe,
)
from ozgbridge.tenant_models import BreakerConfig

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
CONFIG = BreakerConfig(failures=3, cooldown=30, max_cooldown=100)


def feed(breaker: Breaker, *verdicts: Verdict, at: datetime = NOW, delivery: str = "d") -> Breaker:
    for verdict in verdicts:
        breaker = after_attempt(breaker, verdict, delivery_id=delivery, config=CONFIG, now=at)
    return breaker


def test_opens_after_the_configured_consecutive_failures() -> None:
    two = feed(Breaker(), Verdict.FAILURE, Verdict.FAILURE)
    three = feed(two, Verdict.FAILURE)

    assert (two.state, two.failures) == (BreakerState.CLOSED, 2)
    assert three.state is BreakerState.OPEN
    assert three.open_until == NOW + timedelta(seconds=30)
    assert three.cooldown == 30


def test_a_success_resets_the_count() -> None:
    breaker = feed(Breaker(), Verdict.FAILURE, Verdict.FAILURE, Verdict.SUCCESS, Verdict.FAILURE)

    assert (breaker.state, breaker.failures) == (BreakerState.CLOSED, 1)


def test_permanent_errors_neither_count_nor_reset() -> None:
    breaker = feed(Breaker(), Verdict.FAILURE, Verdict.NEUTRAL, Verdict.NEUTRAL, Verdict.FAILURE)

    assert (breaker.state, breaker.failures) == (BreakerState.CLOSED, 2)
    assert feed(breaker, Verdict.FAILURE).state is BreakerState.OPEN


def test_open_admits_nothing_until_the_cool_down_ends_then_one_probe() -> None:
    opened = feed(Breaker(), *[Verdict.FAILURE] * 3)

    assert admission(opened, now=NOW + timedelta(seconds=29), probe_alive=False) is Admission.NONE
    assert admission(opened, now=NOW + timedelta(seconds=30), probe_alive=False) is Admission.PROBE
    probing = start_probe(opened, "probe-1")
    assert probing.state is BreakerState.HALF_OPEN
    assert admission(probing, now=NOW + timedelta(seconds=31), probe_alive=True) is Admission.NONE


def test_a_probe_whose_worker_died_makes_room_for_the_next() -> None:
    probing = start_probe(feed(Breaker(), *[Verdict.FAILURE] * 3), "probe-1")

    assert admission(probing, now=NOW, probe_alive=False) is Admission.PROBE


def test_probe_success_closes_probe_failure_doubles_the_cool_down_up_to_the_maximum() -> None:
    probing = start_probe(feed(Breaker(), *[Verdict.FAILURE] * 3), "p")
    later = NOW + timedelta(seconds=40)

    closed = feed(probing, Verdict.SUCCESS, delivery="p")
    reopened = feed(probing, Verdict.FAILURE, at=later, delivery="p")
    again = feed(start_probe(reopened, "p"), Verdict.FAILURE, at=later, delivery="p")
    capped = feed(start_probe(again, "p"), Verdict.FAILURE, at=later, delivery="p")

    assert closed == Breaker()
    assert (reopened.state, reopened.cooldown) == (BreakerState.OPEN, 60)
    assert reopened.open_until == later + timedelta(seconds=60)
    assert again.cooldown == 100  # 120, capped at max_cooldown
    assert capped.cooldown == 100


def test_a_neutral_probe_frees_the_probe_slot() -> None:
    probing = start_probe(feed(Breaker(), *[Verdict.FAILURE] * 3), "p")

    after = feed(probing, Verdict.NEUTRAL, delivery="p")

    assert (after.state, after.probe) == (BreakerState.HALF_OPEN, None)
    assert admission(after, now=NOW, probe_alive=False) is Admission.PROBE


def test_stragglers_while_open_do_not_extend_it_but_a_straggler_success_closes_it() -> None:
    opened = feed(Breaker(), *[Verdict.FAILURE] * 3)

    straggler_failure = feed(opened, Verdict.FAILURE, at=NOW + timedelta(seconds=10))
    straggler_success = feed(opened, Verdict.SUCCESS)

    assert straggler_failure.open_until == opened.open_until
    assert straggler_failure.state is BreakerState.OPEN
    assert straggler_success == Breaker()


def test_only_the_probe_decides_while_half_open() -> None:
    probing = start_probe(feed(Breaker(), *[Verdict.FAILURE] * 3), "p")

    other = feed(probing, Verdict.FAILURE, delivery="someone-else")

    assert (other.state, other.probe) == (BreakerState.HALF_OPEN, "p")
