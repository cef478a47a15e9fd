"""Which installed connector sends portal events: the one a package registers for it.

Portal events are signed documents POSTed to a portal (`ozgbridge.events.sender`). The core does
not know which connector kind can do that; a connector package says so by registering its
connector class in the entry-point group ``ozgbridge.event_transports`` (the built-in Standard
Webhooks connector does). Exactly one must be installed when a portal key configures events.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any

from ozgbridge.connector import Connector
from ozgbridge.errors import ConfigError

ENTRY_POINT_GROUP = "ozgbridge.event_transports"


@cache
def event_transport_class() -> type[Connector[Any]]:
    """The connector class that sends portal events; ConfigError if none or several are installed,
    or the one installed cannot be loaded."""
    found = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    if not found:
        raise ConfigError(
            f"no connector that sends portal events is installed (entry point group "
            f"{ENTRY_POINT_GROUP})"
        )
    if len(found) > 1:
        names = ", ".join(f"{ep.name} ({ep.value})" for ep in found)
        raise ConfigError(
            f"several connectors are installed to send portal events ({names}); keep one"
        )
    try:
        cls = found[0].load()
    except Exception as exc:
        raise ConfigError(
            f"the portal events connector {found[0].value} cannot be loaded "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise ConfigError(f"{found[0].value} in {ENTRY_POINT_GROUP} is not a Connector class")
    return cls
