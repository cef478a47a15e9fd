"""The sign-in throttle's decisions: per subject, a sliding window, Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ozgbridge.ui import throttle

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)


def times(*seconds_ago: int) -> list[datetime]:
    return sorted(NOW - timedelta(seconds=s) for s in seconds_ago)


def test_under_the_limit_is_allowed() -> None:
    verdict = throttle.decide(
        {"client:a": times(*range(9)), "prefix:p": []}, limit=10, window=WINDOW, now=NOW
    )
    assert verdict.allowed


def test_at_the_limit_waits_until_the_oldest_failure_leaves_the_window() -> None:
    failures = {"client:a": times(200, *range(9)), "prefix:p": []}

    verdict = throttle.decide(failures, limit=10, window=WINDOW, now=NOW)

    assert not verdict.allowed
    assert verdict.retry_after == 100  # 300 s window − 200 s since the oldest
    assert verdict.blocked_by == ("client",)


def test_failures_outside_the_window_do_not_count() -> None:
    verdict = throttle.decide({"client:a": times(301, *range(9))}, limit=10, window=WINDOW, now=NOW)
    assert verdict.allowed


def test_either_subject_blocks_and_the_longer_wait_wins() -> None:
    failures = {"client:a": times(*range(100, 110)), "prefix:p": times(*range(250, 260))}

    verdict = throttle.decide(failures, limit=10, window=WINDOW, now=NOW)

    assert verdict.blocked_by == ("client", "prefix")
    assert verdict.retry_after == 191  # the client's oldest (109 s ago) leaves after 191 s


def test_retry_after_is_at_least_one_second() -> None:
    failures = {"client:a": [NOW - WINDOW + timedelta(milliseconds=10)] * 10}
    assert throttle.decide(failures, limit=10, window=WINDOW, now=NOW).retry_after == 1


def test_the_failure_that_fills_the_allowance_is_named() -> None:
    failures = {"client:a": times(*range(9)), "prefix:p": times(1)}
    assert throttle.reaches_limit(failures, limit=10, window=WINDOW, now=NOW) == ["client:a"]


def test_subjects_keep_only_a_hash_of_the_token_prefix() -> None:
    token = "ozgb_abcdefgSECRETREST"
    subjects = throttle.subjects("203.0.113.7", token)

    assert subjects[0] == "client:203.0.113.7"
    assert "abcdefg" not in subjects[1]
    assert subjects[1] == throttle.subjects("198.51.100.1", "ozgb_abcdefgOTHER")[1]
    assert subjects[1] != throttle.subjects("198.51.100.1", "ozgb_abcdefhOTHER")[1]
    assert all(len(s) <= 80 for s in throttle.subjects("x" * 100, token))
