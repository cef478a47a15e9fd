"""What an HTTP status means for a delivery: done, try again (and when), or give up.

One rule for every connector that speaks HTTP (``http``, ``fitconnect``, third-party ones), so the
same answer from two back-ends never leads to two different outcomes:

- 2xx: delivered.
- 408 Request Timeout, 425 Too Early, 429 Too Many Requests and every 5xx: worth trying again.
- Anything else (1xx where a final answer was due, 3xx — redirects are never followed — and the
  other 4xx): trying again cannot help.

``Retry-After`` is honoured where HTTP gives it that meaning for an error: with 503 (RFC 9110,
section 10.2.3 and 15.6.4) and 429 (RFC 6585, section 4) — as delay-seconds or an HTTP-date. On
other statuses it is ignored, and the route's retry schedule decides.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from ozgbridge.errors import DeliveryError, PermanentDeliveryError, RetriableDeliveryError

__all__ = [
    "RETRIABLE_STATUSES",
    "RETRY_AFTER_STATUSES",
    "classify_http_status",
    "is_retriable_status",
    "parse_retry_after",
]

RETRIABLE_STATUSES = frozenset({408, 425, 429})  # and every 5xx
RETRY_AFTER_STATUSES = frozenset({429, 503})
_DELAY_SECONDS = re.compile(r"[0-9]{1,10}")


def is_retriable_status(status: int) -> bool:
    """True for a status worth trying again after (408, 425, 429, 5xx)."""
    return status in RETRIABLE_STATUSES or 500 <= status < 600


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait per ``Retry-After`` (delay-seconds or HTTP-date); None if unusable.

    A date in the past means "now" (0). Negative, fractional or unreadable values are None: a
    back-end that cannot say it properly leaves the decision to the retry schedule.
    """
    if value is None:
        return None
    text = value.strip()
    if _DELAY_SECONDS.fullmatch(text):
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT by definition
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def classify_http_status(
    status: int, *, target: str, retry_after: str | None = None
) -> DeliveryError | None:
    """None for a 2xx answer; otherwise the error to raise, detail ``HTTP <status> from <target>``.

    ``target`` names where the answer came from (a host, "FIT-Connect (submission)"), never
    credentials or content; ``retry_after`` is the raw ``Retry-After`` header, if any. The caller
    raises the result, after adding what it knows (``response_excerpt``, a cause).
    """
    if 200 <= status < 300:
        return None
    detail = f"HTTP {status} from {target}"
    if is_retriable_status(status):
        wait = parse_retry_after(retry_after) if status in RETRY_AFTER_STATUSES else None
        return RetriableDeliveryError(detail, status_code=status, retry_after=wait)
    return PermanentDeliveryError(detail, status_code=status)
