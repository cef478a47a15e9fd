"""The service catalogue: LeiKa key → service name, OZG-ID and OZG-Leistung.

Shipped with the package (``data/leika_ozg_kdn_2019.csv``, source and licence in
``data/SOURCE.md``), so reports name services the same way on every installation without a
network. A key the catalogue does not know still appears in every report, named by its key.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources

CATALOGUE_FILE = "leika_ozg_kdn_2019.csv"


@dataclass(frozen=True)
class ServiceInfo:
    """One service (Leistung) as reports name it; ``known`` is False for keys not catalogued."""

    leika_key: str
    name: str
    ozg_id: str | None
    ozg_leistung: str | None
    known: bool = True


class Catalogue:
    """LeiKa keys to `ServiceInfo`; unknown keys get a stand-in named by the key."""

    def __init__(self, services: Iterable[ServiceInfo]) -> None:
        self._services: Mapping[str, ServiceInfo] = {s.leika_key: s for s in services}

    def __len__(self) -> int:
        return len(self._services)

    def __contains__(self, leika_key: object) -> bool:
        return leika_key in self._services

    def service(self, leika_key: str) -> ServiceInfo:
        found = self._services.get(leika_key)
        if found is not None:
            return found
        return ServiceInfo(leika_key, leika_key, None, None, known=False)

    @classmethod
    def from_csv(cls, text: str) -> Catalogue:
        """Read the catalogue format: ``leika_key,leika_typ,leika_name,ozg_id,ozg_leistung``."""
        reader = csv.DictReader(io.StringIO(text))
        return cls(
            ServiceInfo(
                leika_key=row["leika_key"].strip(),
                name=row["leika_name"].strip() or row["leika_key"].strip(),
                ozg_id=row["ozg_id"].strip() or None,
                ozg_leistung=row["ozg_leistung"].strip() or None,
            )
            for row in reader
            if row.get("leika_key", "").strip()
        )


@functools.cache
def default_catalogue() -> Catalogue:
    """The catalogue shipped with ozgbridge (read once per process)."""
    text = resources.files("ozgbridge.reporting").joinpath("data", CATALOGUE_FILE)
    return Catalogue.from_csv(text.read_text(encoding="utf-8"))
