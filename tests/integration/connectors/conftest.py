"""Connector integration tests: real back-end stand-ins on this machine."""

import pytest

# The contract and the stand-ins assert outside test modules; give them pytest's assert messages.
pytest.register_assert_rewrite(
    "tests.integration.connectors.http_backend",
    "tests.integration.connectors.smtp_backend",
    "tests.integration.connectors.sftp_backend",
    "tests.integration.connectors.folders",
)
