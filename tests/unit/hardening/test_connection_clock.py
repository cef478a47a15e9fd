"""Which deadline a connection has missed (mod_reqtimeout's rules), decided from its clock."""

from __future__ import annotations

from ozgbridge.api.connection_limits import Clock, ConnectionLimits, Phase, overdue, raw_problem

LIMITS = ConnectionLimits(
    header_timeout=20, body_timeout=20, body_min_rate=500, keepalive_timeout=30, max_connections=9
)


def check(clock: Clock, now: float, *, waiting: bool = True, reading: bool = False) -> Phase | None:
    return overdue(clock, now=now, waiting=waiting, reading_body=reading, limits=LIMITS)


def test_a_fresh_silent_connection_has_the_header_timeout() -> None:
    clock = Clock(opened_at=100)
    assert check(clock, 119.9) is None
    assert check(clock, 120.1) is Phase.HEADERS


def test_a_head_must_be_complete_within_the_timeout_of_its_first_byte() -> None:
    clock = Clock(opened_at=0, idle_since=50, head_started=60, head_bytes=300)
    assert check(clock, 79) is None
    assert check(clock, 81) is Phase.HEADERS


def test_the_body_deadline_grows_by_a_second_per_500_bytes() -> None:
    clock = Clock(opened_at=0, body_started=10, body_bytes=5000)  # 20 s + 10 s
    assert check(clock, 39, waiting=False, reading=True) is None
    assert check(clock, 41, waiting=False, reading=True) is Phase.BODY


def test_time_the_server_did_not_read_is_not_the_clients() -> None:
    clock = Clock(opened_at=0, body_started=0, body_bytes=0, paused=15)
    assert check(clock, 34, waiting=False, reading=True) is None  # 34 s - 15 s paused
    assert check(clock, 36, waiting=False, reading=True) is Phase.BODY
    clock.paused_since = 30  # stopped reading again at 30 s, still not reading
    assert check(clock, 100, waiting=False, reading=True) is None


def test_a_handler_at_work_after_the_body_has_no_deadline_here() -> None:
    clock = Clock(opened_at=0, body_started=0)
    assert check(clock, 1000, waiting=False, reading=False) is None


def test_an_idle_keep_alive_connection_ends_after_its_timeout() -> None:
    clock = Clock(opened_at=0, idle_since=100)
    assert check(clock, 129) is None
    assert check(clock, 131) is Phase.KEEPALIVE


def test_the_watchdog_looks_often_enough() -> None:
    assert LIMITS.tick == 1.0
    short = ConnectionLimits(1, 1, 500, 1, 10)
    assert short.tick == 0.25


def test_a_raw_answer_is_complete_http() -> None:
    answer = raw_problem(408, "too slow")
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 408 Request Timeout"
    assert f"Content-Length: {len(body)}" in lines
    assert "Connection: close" in lines
    assert "X-Content-Type-Options: nosniff" in lines
    assert b'"detail": "too slow"' in body
