"""The portal events transport comes from an entry point, never from a kind named in the core."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint

import pytest

from connectors.http import HttpConnector
from ozgbridge import event_transport
from ozgbridge.errors import ConfigError


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    event_transport.event_transport_class.cache_clear()
    yield
    event_transport.event_transport_class.cache_clear()


def installed(monkeypatch: pytest.MonkeyPatch, *values: str) -> None:
    found = [
        EntryPoint(name=f"t{n}", value=value, group=event_transport.ENTRY_POINT_GROUP)
        for n, value in enumerate(values)
    ]
    monkeypatch.setattr(event_transport, "entry_points", lambda group: found)


def test_the_built_in_webhooks_connector_is_registered() -> None:
    assert event_transport.event_transport_class() is HttpConnector


def test_none_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    installed(monkeypatch)
    with pytest.raises(ConfigError, match="no connector that sends portal events is installed"):
        event_transport.event_transport_class()


def test_several_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    installed(monkeypatch, "connectors.http:HttpConnector", "connectors.filedrop:FileDropConnector")
    with pytest.raises(ConfigError, match=r"several connectors .* keep one"):
        event_transport.event_transport_class()


@pytest.mark.parametrize(
    ("value", "message"),
    [("no_such_module:X", "cannot be loaded"), ("ozgbridge.errors:ConfigError", "not a Connector")],
)
def test_broken_registration(monkeypatch: pytest.MonkeyPatch, value: str, message: str) -> None:
    installed(monkeypatch, value)
    with pytest.raises(ConfigError, match=message):
        event_transport.event_transport_class()
