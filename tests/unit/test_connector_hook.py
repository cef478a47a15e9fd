"""The hook a connector implements is `send`; one written with the old `_deliver` still works."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from ozgbridge.connector import (
    Connector,
    ConnectorContext,
    ConnectorOptions,
    Envelope,
    Receipt,
    RetriableDeliveryError,
)
from ozgbridge.testing import make_envelope

CONTEXT = ConnectorContext(tenant_id="t", route_id="r", data_dir=Path("."))


class Modern(Connector[ConnectorOptions]):
    kind = "modern"
    Options = ConnectorOptions
    closed = False

    async def send(self, envelope: Envelope) -> Receipt:
        return Receipt(remote_reference=f"modern-{envelope.delivery_id}")

    async def aclose(self) -> None:
        self.closed = True


async def test_deliver_calls_send() -> None:
    envelope = make_envelope()
    connector = Modern(ConnectorOptions(), context=CONTEXT, timeout=5)

    receipt = await connector.deliver(envelope)
    await connector.aclose()

    assert receipt.remote_reference == f"modern-{envelope.delivery_id}"
    assert connector.closed


async def test_a_connector_with_the_old_hook_names_still_delivers_and_closes() -> None:
    with pytest.warns(DeprecationWarning, match="_deliver, which is deprecated: rename it to send"):

        class Legacy(Connector[ConnectorOptions]):
            kind = "legacy"
            Options = ConnectorOptions
            closed = False

            async def _deliver(self, envelope: Envelope) -> Receipt:
                return Receipt(remote_reference=f"legacy-{envelope.delivery_id}")

            async def _close(self) -> None:
                self.closed = True

    envelope = make_envelope()
    connector = Legacy(ConnectorOptions(), context=CONTEXT, timeout=5)

    assert (await connector.deliver(envelope)).remote_reference == f"legacy-{envelope.delivery_id}"
    await connector.aclose()
    assert connector.closed


async def test_subclass_of_an_old_style_connector_overrides_the_old_hook() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)

        class Base(Connector[ConnectorOptions]):
            kind = "base"
            Options = ConnectorOptions

            async def _deliver(self, envelope: Envelope) -> Receipt:
                return Receipt(detail="base")

        class Derived(Base):
            async def _deliver(self, envelope: Envelope) -> Receipt:
                raise RetriableDeliveryError("derived")

    with pytest.raises(RetriableDeliveryError, match="derived"):
        await Derived(ConnectorOptions(), context=CONTEXT, timeout=5).deliver(make_envelope())


async def test_calling_the_old_name_reaches_send() -> None:
    connector = Modern(ConnectorOptions(), context=CONTEXT, timeout=5)
    envelope = make_envelope()

    assert (await connector._deliver(envelope)).remote_reference == (
        f"modern-{envelope.delivery_id}"
    )


def test_a_connector_without_send_cannot_be_built() -> None:
    class Nothing(Connector[ConnectorOptions]):
        kind = "nothing"
        Options = ConnectorOptions

    with pytest.raises(TypeError, match="send"):
        Nothing(ConnectorOptions(), context=CONTEXT, timeout=5)  # type: ignore[abstract]
