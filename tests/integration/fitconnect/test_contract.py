"""The shared connector contract, run against the fake Zustelldienst."""

from __future__ import annotations

import pytest

from ozgbridge.testing.contract import BackendStandIn, ConnectorContract
from tests.integration.fitconnect.support import FitConnectStandIn


class TestFitConnectContract(ConnectorContract):
    @pytest.fixture
    def backend(self, standin: FitConnectStandIn) -> BackendStandIn:
        return standin
