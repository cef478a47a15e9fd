"""`ScriptedConnector`: a connector that plays back a script, for tests of the worker and the API.

It keeps what it receives in memory and plays back a script of outcomes. It is
deliberately *not* registered as an entry point: a deployment can never route to it by accident.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ozgbridge.connector import Connector, ConnectorContext, ConnectorOptions, Receipt
from ozgbridge.domain import Envelope
from ozgbridge.errors import DeliveryError


@dataclass(frozen=True)
class Hang:
    """Script step: wait this long (past the timeout, usually) before answering."""

    seconds: float


Step = DeliveryError | Hang | None  # None = success


class ScriptedConnector(Connector[ConnectorOptions]):
    """Plays ``script`` one step per attempt, then succeeds; records every envelope it saw."""

    kind = "scripted"
    Options = ConnectorOptions

    def __init__(
        self,
        script: Iterable[Step] = (),
        *,
        timeout: float = 5.0,
        tenant_id: str = "test",
        route_id: str = "test",
    ) -> None:
        super().__init__(
            ConnectorOptions(),
            context=ConnectorContext(tenant_id=tenant_id, route_id=route_id, data_dir=Path(".")),
            timeout=timeout,
        )
        self.script = list(script)
        self.received: list[Envelope] = []
        self.delivered: list[Envelope] = []
        self.changed = asyncio.Condition()

    async def send(self, envelope: Envelope) -> Receipt:
        step = self.script.pop(0) if self.script else None
        async with self.changed:
            self.received.append(envelope)
            self.changed.notify_all()
        if isinstance(step, Hang):
            await asyncio.sleep(step.seconds)
        elif isinstance(step, DeliveryError):
            raise step
        async with self.changed:
            self.delivered.append(envelope)
            self.changed.notify_all()
        return Receipt(remote_reference=f"mem-{envelope.delivery_id}", status_code=200)

    async def wait_for(self, *, received: int = 0, delivered: int = 0, within: float = 10) -> None:
        """Until at least this many attempts arrived / deliveries succeeded."""
        async with asyncio.timeout(within), self.changed:
            await self.changed.wait_for(
                lambda: len(self.received) >= received and len(self.delivered) >= delivered
            )
