"""API keys as a whole (pure): the rules over all keys of ``keys.yaml`` (unique ids and token
hashes, a tenant key's tenant exists), expiry warnings (with the configuration's other findings,
so ``config validate`` and every start show them), and what a rotation makes of a key's entry.

A rotation gives a key a new token and keeps the old one working for an overlap, so the holder
can switch without downtime: the entry keeps its id (the key's applications, audit trail and
"last used" stay its own), ``sha256`` becomes the new token's hash, and the old hash moves to
``previous`` with an ``expires``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ozgbridge.apikey_models import ApiKey, PreviousToken, Role
from ozgbridge.configfile import Loc
from ozgbridge.tenant_rules import Finding, did_you_mean

EXPIRY_WARNING = timedelta(days=14)


def _key_hashes(key: ApiKey, index: int) -> list[tuple[Loc, str]]:
    """A key's token hashes, the current one and those a rotation kept, with their locations."""
    found: list[tuple[Loc, str]] = [(("keys", index, "sha256"), key.sha256)]
    found += [
        (("keys", index, "previous", n, "sha256"), p.sha256) for n, p in enumerate(key.previous)
    ]
    return found


def check_keys(
    keys: Sequence[tuple[int, ApiKey]], declared_ids: Iterable[str], source: Path
) -> list[Finding]:
    """Key ids and hashes are unique; tenant keys belong to a tenant that exists."""
    known = set(declared_ids)
    ids: dict[str, int] = {}
    hashes: dict[str, int] = {}
    findings = []
    for index, key in keys:
        if key.id in ids:
            findings.append(
                Finding(
                    source,
                    ("keys", index, "id"),
                    f"key id {key.id!r} is already used by keys[{ids[key.id]}]",
                )
            )
        else:
            ids[key.id] = index
        for loc, digest in _key_hashes(key, index):
            if digest in hashes:
                findings.append(
                    Finding(
                        source,
                        loc,
                        f"same hash as keys[{hashes[digest]}]: every key needs its own token",
                    )
                )
            else:
                hashes[digest] = index
        if key.role is Role.TENANT and key.tenant is not None and key.tenant not in known:
            findings.append(
                Finding(
                    source,
                    ("keys", index, "tenant"),
                    f"tenant {key.tenant!r} is not a tenant of this deployment"
                    + did_you_mean(key.tenant, known),
                )
            )
    return findings


def _when(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def _in(delta: timedelta) -> str:
    days = delta.total_seconds() / 86400
    return (
        f"in {days:.0f} day(s)" if days >= 1 else f"in {delta.total_seconds() / 3600:.0f} hour(s)"
    )


def expiry_findings(
    keys: Sequence[tuple[int, ApiKey]],
    source: Path,
    now: datetime,
    *,
    within: timedelta = EXPIRY_WARNING,
) -> list[Finding]:
    """Warnings for keys (and replaced tokens) that expired, or will within ``within``."""
    found = []
    for index, key in keys:
        if key.expires is not None:
            loc: Loc = ("keys", index, "expires")
            if key.expires <= now:
                message = f"key {key.id!r} expired at {_when(key.expires)}: remove it"
                found.append(Finding(source, loc, message, "warning"))
            elif key.expires - now <= within:
                message = (
                    f"key {key.id!r} expires {_in(key.expires - now)} ({_when(key.expires)}): "
                    f"`ozgbridge keys rotate --id {key.id}`, then set a new `expires`"
                )
                found.append(Finding(source, loc, message, "warning"))
        for n, previous in enumerate(key.previous):
            if previous.expires <= now:
                message = (
                    f"the replaced token of key {key.id!r} expired at {_when(previous.expires)}: "
                    "remove this entry"
                )
                loc = ("keys", index, "previous", n, "expires")
                found.append(Finding(source, loc, message, "warning"))
    return found


def rotated(key: ApiKey, new_sha256: str, now: datetime, overlap: timedelta) -> dict[str, Any]:
    """The key's keys.yaml entry after rotating to the token hashing to ``new_sha256``.

    The old token works until ``now + overlap`` (never past the key's own ``expires``); replaced
    tokens already expired are dropped. ``demo`` goes: the new token is not published.
    """
    old_until = now + overlap
    if key.expires is not None:
        old_until = min(old_until, key.expires)
    kept = [p for p in key.previous if p.expires > now]
    updated = key.model_copy(
        update={
            "sha256": new_sha256,
            "demo": False,
            "previous": [PreviousToken(sha256=key.sha256, expires=old_until), *kept],
        }
    )
    return updated.model_dump(mode="json", exclude_defaults=True)
