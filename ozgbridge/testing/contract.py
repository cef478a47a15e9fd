"""The contract every connector must pass, written once and run against each connector.

A connector's test module subclasses `ConnectorContract` and overrides the ``backend`` fixture to
yield a `BackendStandIn`: something that builds connectors pointed at a real (local) back-end and
reads back what that back-end received, normalised to `Received`::

    from ozgbridge.testing import ConnectorContract

    class TestFileDropContract(ConnectorContract):
        @pytest.fixture
        async def backend(self, tmp_path): yield FileDropStandIn(tmp_path)

The stand-in also offers two switches: ``stalled()`` (the back-end stops answering) and
``failing()`` (the back-end fails the way that kind of back-end naturally fails: HTTP 500, a file
where the drop directory should be, …).

The connector must be installed (its entry point in ``ozgbridge.connectors``): the first test
checks that its kind finds its class. The tests are coroutines: run them with pytest-asyncio in
``asyncio_mode = "auto"``.
"""

from __future__ import annotations

import time
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import pytest
from structlog.testing import capture_logs

from ozgbridge.connector import Connector, Receipt, connector_class
from ozgbridge.errors import DeliveryError, RetriableDeliveryError
from ozgbridge.testing.factories import PERSONAL_DATA, make_attachment, make_envelope


@dataclass(frozen=True)
class Received:
    """One delivery as the back-end saw it."""

    delivery_id: str  # the idempotency key the back-end got (header, manifest, …)
    application_id: str
    data: bytes
    data_mime_type: str
    attachments: tuple[bytes, ...]  # in manifest order


class BackendStandIn(Protocol):
    def connector(self, *, timeout: float = 10.0) -> Connector[Any]:
        """A connector pointed at this back-end (closed by the stand-in's fixture)."""
        ...

    async def received(self) -> list[Received]:
        """Every delivery the back-end has accepted so far (order unspecified)."""
        ...

    def stalled(self) -> AbstractAsyncContextManager[None]:
        """While active, the back-end accepts the hand-over but never finishes it."""
        ...

    def failing(self) -> AbstractAsyncContextManager[None]:
        """While active, the back-end fails every hand-over."""
        ...


class ConnectorContract:
    """Subclass as ``Test<Name>Contract`` and override the ``backend`` fixture."""

    @pytest.fixture
    def backend(self) -> BackendStandIn:
        raise NotImplementedError("override the backend fixture in the connector's test module")

    async def test_registered_under_its_kind(self, backend: BackendStandIn) -> None:
        connector = backend.connector()

        assert connector_class(connector.kind) is type(connector)
        with pytest.raises(ValueError, match="typo_option"):
            type(connector).Options.model_validate({"typo_option": 1})

    async def test_options_are_described_by_a_json_schema(self, backend: BackendStandIn) -> None:
        # `ozgbridge connectors list` shows every installed kind's options from this schema.
        schema = type(backend.connector()).Options.model_json_schema()

        assert schema.get("type") == "object"
        assert isinstance(schema.get("properties", {}), dict)

    async def test_delivers_form_data_and_every_attachment_byte_equal(
        self, backend: BackendStandIn
    ) -> None:
        envelope = make_envelope()

        receipt = await backend.connector().deliver(envelope)

        assert isinstance(receipt, Receipt)
        [got] = await backend.received()
        assert got.application_id == envelope.application_id
        assert got.delivery_id == envelope.delivery_id
        assert got.data == envelope.data.content
        assert got.data_mime_type == envelope.data.mime_type
        assert got.attachments == tuple(a.content for a in envelope.attachments)

    async def test_empty_attachment_list_and_empty_attachment_arrive(
        self, backend: BackendStandIn
    ) -> None:
        bare = make_envelope(attachments=())
        empty_file = make_envelope(attachments=(make_attachment(content=b""),))
        connector = backend.connector()

        await connector.deliver(bare)
        await connector.deliver(empty_file)

        by_application = {r.application_id: r for r in await backend.received()}
        assert by_application[bare.application_id].attachments == ()
        assert by_application[empty_file.application_id].attachments == (b"",)

    async def test_hostile_but_valid_envelope_arrives_intact(self, backend: BackendStandIn) -> None:
        envelope = make_envelope(
            data=make_envelope().data.model_copy(
                update={"mime_type": "text/plain\r\nX-Injected: 1", "content": b""}
            ),
            attachments=(
                make_attachment(filename="../../\x00..", mime_type="", content=b"\r\n--\r\n"),
                make_attachment(filename="C:\\evil\\" + "ä" * 400, content=bytes(range(256)) * 99),
            ),
        )

        await backend.connector().deliver(envelope)

        [got] = await backend.received()
        assert got.data == b""
        assert got.attachments == tuple(a.content for a in envelope.attachments)

    async def test_every_attempt_carries_the_delivery_id(self, backend: BackendStandIn) -> None:
        first = make_envelope()
        retry = first.model_copy(update={"attempt": 2})
        other = make_envelope()
        connector = backend.connector()

        await connector.deliver(first)
        await connector.deliver(retry)
        await connector.deliver(other)

        received = await backend.received()
        assert {(r.application_id, r.delivery_id) for r in received} == {
            (first.application_id, first.delivery_id),
            (other.application_id, other.delivery_id),
        }

    async def test_failures_surface_as_translated_delivery_errors(
        self, backend: BackendStandIn
    ) -> None:
        connector = backend.connector()

        async with backend.failing():
            with pytest.raises(DeliveryError) as caught:
                await connector.deliver(make_envelope())

        # The base class turns stray exceptions into "unexpected …"; a connector translates
        # its own library's errors, with the cause kept for the operator.
        assert not caught.value.detail.startswith("unexpected")
        assert caught.value.__cause__ is not None or caught.value.status_code is not None
        assert not any(word in caught.value.detail for word in PERSONAL_DATA)

    async def test_timeout_is_retriable(self, backend: BackendStandIn) -> None:
        connector = backend.connector(timeout=0.3)

        async with backend.stalled():
            started = time.monotonic()
            with pytest.raises(RetriableDeliveryError):
                await connector.deliver(make_envelope())
            elapsed = time.monotonic() - started

        assert elapsed < 5

    async def test_logs_carry_no_personal_data(self, backend: BackendStandIn) -> None:
        envelope = make_envelope()
        connector = backend.connector()

        with capture_logs() as events:
            await connector.deliver(envelope)
            async with backend.failing():
                with pytest.raises(DeliveryError):
                    await connector.deliver(make_envelope())

        assert events, "a delivery must leave log events"
        logged = repr(events)
        assert envelope.delivery_id in logged
        for word in (*PERSONAL_DATA, *(a.filename for a in envelope.attachments)):
            assert word not in logged
