"""Test support shipped with ozgbridge, for its own tests and for connector packages.

- `ConnectorContract`: the suite every connector must pass. A connector package subclasses it in
  a test module and provides a ``backend`` fixture (a `BackendStandIn`), see docs/connectors.md.
- `make_envelope` / `make_attachment`: envelopes full of awkward bytes and recognisable personal
  data (`PERSONAL_DATA`), so a test can prove that none of it reaches a log or an error.
- `ScriptedConnector`: plays back a script of outcomes, for tests of the worker and the API.

Needs pytest and pytest-asyncio (``pip install 'ozgbridge[testing]'``); the suite's tests are
coroutines, so run them with ``asyncio_mode = "auto"``.
"""

import pytest

# The contract asserts outside the plug-in's own test modules: give it pytest's assert messages.
pytest.register_assert_rewrite("ozgbridge.testing.contract")

from ozgbridge.testing.contract import BackendStandIn, ConnectorContract, Received  # noqa: E402
from ozgbridge.testing.factories import (  # noqa: E402
    PERSONAL_DATA,
    make_attachment,
    make_envelope,
)
from ozgbridge.testing.scripted import Hang, ScriptedConnector, Step  # noqa: E402

__all__ = [
    "PERSONAL_DATA",
    "BackendStandIn",
    "ConnectorContract",
    "Hang",
    "Received",
    "ScriptedConnector",
    "Step",
    "make_attachment",
    "make_envelope",
]
