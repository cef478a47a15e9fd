"""Moved to `ozgbridge.testing.contract` (shipped, so plug-in packages run it too)."""

from ozgbridge.testing.contract import BackendStandIn, ConnectorContract, Received

__all__ = ["BackendStandIn", "ConnectorContract", "Received"]
