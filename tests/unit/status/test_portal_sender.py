"""The portal sender follows the keys of the moment: a reload that changes a key's events gets a
new connector, an unchanged key keeps its own, a key without events is refused (retriable)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ozgbridge.errors import ConfigError, RetriableDeliveryError
from ozgbridge.events.sender import PortalSender
from ozgbridge.settings import Settings
from ozgbridge.store.outbox import ClaimedEvent
from ozgbridge.tenants import ApiKey, token_sha256

SECRET = "whsec_cG9ydGFsLWV2ZW50cy1zZWNyZXQtZm9yLXRlc3Rz"


def portal(url: str | None, timeout: float | None = None) -> ApiKey:
    events = None if url is None else {"url": url, "signing_secret": SECRET, "timeout": timeout}
    return ApiKey.model_validate(
        {"id": "portal", "role": "portal", "sha256": token_sha256("t"), "events": events}
    )


async def test_connectors_follow_reloaded_keys(tmp_path: Path) -> None:
    keys = [portal("https://portal.example/a")]
    sender = PortalSender(lambda: keys, Settings(data_dir=tmp_path))
    try:
        sender.check()
        first = sender.connector("portal", keys[0].events)  # type: ignore[arg-type]
        assert sender.connector("portal", keys[0].events) is first  # type: ignore[arg-type]
        assert first.describe_target() == "https://portal.example:443/a"

        keys[:] = [portal("https://portal.example/b")]  # a reload changed the URL
        second = sender.connector("portal", keys[0].events)  # type: ignore[arg-type]
        assert second is not first
        assert second.describe_target() == "https://portal.example:443/b"
        assert sender.schedule("portal") is None

        keys[:] = [portal(None)]  # … and then dropped the events
        event = ClaimedEvent(1, "01JD0000000000000000000000", "01JD0000000000000000000001",
                             "portal", "application.status", "{}", 1)  # fmt: skip
        with pytest.raises(RetriableDeliveryError, match="no events configured"):
            await sender.send(event)
    finally:
        await sender.aclose()


def test_an_events_timeout_must_be_shorter_than_the_lease(tmp_path: Path) -> None:
    keys = [portal("https://portal.example/a", timeout=200)]
    sender = PortalSender(lambda: keys, Settings(data_dir=tmp_path, lease_seconds=120))

    with pytest.raises(ConfigError, match="shorter than OZGBRIDGE_LEASE_SECONDS"):
        sender.check()
