"""The sign-in throttle's decisions (pure): whom failed sign-ins count against, and when to stop.

Failures count against two subjects: the client address (one machine guessing many tokens) and
the first characters of the token tried (many machines guessing at one token's neighbourhood).
Only a hash of the prefix is kept — a mistyped real token's beginning must not end up in the
database or the audit log. A subject with ``limit`` failures within ``window`` is refused (429)
until its oldest counted failure leaves the window; refused attempts are not counted again, so a
client that keeps hammering is let in again one window after its last counted failure.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

# "ozgb_" and 7 random characters: enough to tell one token's neighbourhood from another's.
PREFIX_LENGTH = 12
CLIENT = "client:"
PREFIX = "prefix:"


def prefix_hash(token: str) -> str:
    return hashlib.sha256(token[:PREFIX_LENGTH].encode("utf-8", "replace")).hexdigest()[:32]


def subjects(client: str, token: str) -> list[str]:
    """What a failed sign-in from ``client`` with ``token`` counts against."""
    return [f"{CLIENT}{client}"[:80], f"{PREFIX}{prefix_hash(token)}"]


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # whole seconds, for Retry-After
    blocked_by: tuple[str, ...] = ()  # subject kinds: "client", "prefix"


def decide(
    failures: Mapping[str, Sequence[datetime]],
    *,
    limit: int,
    window: timedelta,
    now: datetime,
) -> Verdict:
    """Whether a sign-in may be tried now, given each subject's failures (oldest first)."""
    waits: list[float] = []
    blocked: list[str] = []
    for subject, times in failures.items():
        recent = [at for at in times if at > now - window]
        if len(recent) < limit:
            continue
        # Free again when enough of them have left the window to be under the limit.
        frees_at = recent[len(recent) - limit] + window
        waits.append((frees_at - now).total_seconds())
        blocked.append(subject.split(":", 1)[0])
    if not waits:
        return Verdict(allowed=True)
    return Verdict(
        allowed=False, retry_after=max(1, math.ceil(max(waits))), blocked_by=tuple(blocked)
    )


def reaches_limit(
    failures: Mapping[str, Sequence[datetime]], *, limit: int, window: timedelta, now: datetime
) -> list[str]:
    """Subjects whose next failure (the one about to be recorded) is their ``limit``-th."""
    return [
        subject
        for subject, times in failures.items()
        if sum(1 for at in times if at > now - window) + 1 == limit
    ]
