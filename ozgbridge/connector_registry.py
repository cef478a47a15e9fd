"""The installed connector kinds, found through the entry-point group ``ozgbridge.connectors``.

Apart from the connector API because it is about which packages are installed, not about what a
connector is: the built-ins register exactly like a third-party package does, each kind is
loaded on first use, and ``ozgbridge connectors list`` shows them without loading any.
``ozgbridge.connector`` re-exports these names (its ``__all__`` is the contract plug-ins use).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from ozgbridge.errors import ConfigError

# ozgbridge.connector imports this module to re-export it; importing Connector back at the top
# would be a cycle that fails depending on which module loads first. So Connector is imported for
# type checking, and at run time only where a loaded class is checked (the base names it as text).
if TYPE_CHECKING:
    from ozgbridge.connector import Connector

ENTRY_POINT_GROUP = "ozgbridge.connectors"


class _InstalledKinds(Mapping[str, "type[Connector[Any]]"]):
    """Installed connector kinds, each loaded on first use.

    Loading lazily means a broken or half-installed plugin only affects the routes that use it,
    not every connector.
    """

    def __init__(self) -> None:
        self.entry_points = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
        self._loaded: dict[str, type[Connector[Any]]] = {}

    def __getitem__(self, kind: str) -> type[Connector[Any]]:
        from ozgbridge.connector import Connector  # noqa: PLC0415 - see the comment at the top

        if kind not in self._loaded:
            entry_point = self.entry_points[kind]
            try:
                cls = entry_point.load()
            except Exception as exc:
                raise ConfigError(
                    f"connector kind {kind!r} is installed but cannot be loaded "
                    f"({type(exc).__name__}: {exc})"
                ) from exc
            if not (isinstance(cls, type) and issubclass(cls, Connector)):
                raise ConfigError(
                    f"entry point {kind!r} in {ENTRY_POINT_GROUP} is not a Connector class"
                )
            self._loaded[kind] = cls
        return self._loaded[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self.entry_points)

    def __len__(self) -> int:
        return len(self.entry_points)


@cache
def _registry() -> Mapping[str, type[Connector[Any]]]:
    return _InstalledKinds()


def available_kinds() -> list[str]:
    return sorted(_registry())


def connector_class(kind: str) -> type[Connector[Any]]:
    """The connector class registered for ``kind``; a ConfigError naming the known kinds if none."""
    try:
        return _registry()[kind]
    except KeyError:
        known = ", ".join(available_kinds()) or "none installed"
        raise ConfigError(f"unknown connector kind {kind!r} (known kinds: {known})") from None


@dataclass(frozen=True)
class InstalledConnector:
    """One installed kind as its package registered it, for ``ozgbridge connectors list``."""

    kind: str
    target: str  # the entry point's "module:Class"
    distribution: str | None
    version: str | None


def installed_connectors() -> list[InstalledConnector]:
    """Every kind registered in ``ozgbridge.connectors``, by kind, without loading any."""
    registry = _registry()
    found: Mapping[str, EntryPoint] = getattr(registry, "entry_points", {})
    listed = []
    for kind in sorted(registry):
        entry_point = found.get(kind)
        dist = entry_point.dist if entry_point is not None else None
        listed.append(
            InstalledConnector(
                kind=kind,
                target=entry_point.value if entry_point is not None else "",
                distribution=dist.name if dist is not None else None,
                version=dist.version if dist is not None else None,
            )
        )
    return listed
