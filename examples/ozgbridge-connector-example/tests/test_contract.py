"""The contract every ozgbridge connector must pass, run against this one."""

import pytest

from ozgbridge.testing import BackendStandIn, ConnectorContract
from tests.backend import UploadEndpoint


class TestZipUploadContract(ConnectorContract):
    @pytest.fixture
    def backend(self, endpoint: UploadEndpoint) -> BackendStandIn:
        return endpoint
