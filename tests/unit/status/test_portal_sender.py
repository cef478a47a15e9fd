"""The portal sender follows the keys of the moment: a reload that changes a key's events gets a
new connector, an unchanged key keeps its own, a key without events is refused (retriable). It is
the one place a stored event body is opened."""

from __future__ import annotations

from pathlib import Path

import pytest

from ozgbridge.dataprotection import keys as data_keys
from ozgbridge.dataprotection.sealing import Sealer, portal_event_body_aad
from ozgbridge.errors import ConfigError, PermanentDeliveryError, RetriableDeliveryError
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
    sender = PortalSender(lambda: keys, Settings(data_dir=tmp_path), sealer=Sealer.plaintext())
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
                             "portal", "application.status", b"{}", None, 1)  # fmt: skip
        with pytest.raises(RetriableDeliveryError, match="no events configured"):
            await sender.send(event)
    finally:
        await sender.aclose()


def test_an_events_timeout_must_be_shorter_than_the_lease(tmp_path: Path) -> None:
    keys = [portal("https://portal.example/a", timeout=200)]
    sender = PortalSender(
        lambda: keys, Settings(data_dir=tmp_path, lease_seconds=120), sealer=Sealer.plaintext()
    )

    with pytest.raises(ConfigError, match="shorter than OZGBRIDGE_LEASE_SECONDS"):
        sender.check()


def _event(body: bytes | None, key_id: str | None) -> ClaimedEvent:
    return ClaimedEvent(1, EVENT_ID, "01JD0000000000000000000001", "portal",
                        "application.status", body, key_id, 1)  # fmt: skip


EVENT_ID = "01JD0000000000000000000000"
DOCUMENT = b'{"data": {"note": "Frau Erika Mustermann: bitte Lageplan nachreichen"}}'


def test_the_sender_opens_a_sealed_body_and_refuses_what_it_cannot_open(tmp_path: Path) -> None:
    sealer = Sealer(data_keys.create_file(tmp_path / "keys.yaml", data_keys.new_key("k1")))
    sender = PortalSender(lambda: [], Settings(data_dir=tmp_path), sealer=sealer)
    sealed = sealer.seal(DOCUMENT, portal_event_body_aad(EVENT_ID))

    assert DOCUMENT not in sealed
    assert sender.body(_event(sealed, "k1")) == DOCUMENT
    assert sender.body(_event(DOCUMENT, None)) == DOCUMENT  # stored in plaintext (before 0013)
    # a key the file lacks: worth retrying once the operator adds it back
    with pytest.raises(RetriableDeliveryError, match="data key 'k0' is not configured"):
        sender.body(_event(sealed, "k0"))
    # moved to another event, or altered: final
    moved = sealer.seal(DOCUMENT, portal_event_body_aad("01JD0000000000000000000009"))
    with pytest.raises(PermanentDeliveryError, match="does not authenticate"):
        sender.body(_event(moved, "k1"))
    with pytest.raises(PermanentDeliveryError, match="deleted by retention"):
        sender.body(_event(None, None))
