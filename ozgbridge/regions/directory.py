"""The official municipality directory: which AGS/ARS exist, their names, their Kreis.

Shipped with the package (``data/gemeindeverzeichnis.csv`` and ``.json``; source, Gebietsstand
and licence in ``data/SOURCE.md``), refreshed from Destatis' published GV100AD file by
``scripts/refresh-gemeindeverzeichnis.py``. The directory says which Länder it covers: a key of a
Land it does not cover is *unknown* to it, never *wrong* — checks warn there instead of failing.

Keys by level: Land 2 digits, Regierungsbezirk 3, Kreis 5, Gemeindeverband 9 (Kreis + 4-digit
Verband), Gemeinde 12 (the ARS). A Gemeinde's AGS is ``ars[:5] + ars[9:]``.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from typing import Any, Literal

Level = Literal["land", "regierungsbezirk", "kreis", "verband", "gemeinde"]
KEY_LENGTH: Mapping[str, int] = {
    "land": 2,
    "regierungsbezirk": 3,
    "kreis": 5,
    "verband": 9,
    "gemeinde": 12,
}
DATA_FILE = "gemeindeverzeichnis.csv"
META_FILE = "gemeindeverzeichnis.json"
CSV_COLUMNS = ("key", "level", "kind", "name")

# Textkennzeichen of Kreise and Gemeinden, for messages.
KINDS: Mapping[str, str] = {
    "41": "kreisfreie Stadt",
    "42": "Stadtkreis",
    "43": "Kreis",
    "44": "Landkreis",
    "45": "Regionalverband",
    "51": "Amt",
    "52": "Samtgemeinde",
    "53": "Verbandsgemeinde",
    "54": "Verwaltungsgemeinschaft",
    "55": "Kirchspielslandgemeinde",
    "56": "Verwaltungsverband",
    "57": "Verwaltungsgemeinschaft (Trägermodell)",
    "58": "erfüllende Gemeinde",
    "60": "Markt",
    "61": "kreisfreie Stadt",
    "62": "Stadtkreis",
    "63": "Stadt",
    "64": "Gemeinde",
    "65": "gemeindefreies Gebiet",
    "66": "gemeindefreies Gebiet",
    "67": "große Kreisstadt",
}


@dataclass(frozen=True)
class Entry:
    """One Land, Regierungsbezirk, Kreis, Gemeindeverband or Gemeinde of the directory."""

    key: str
    level: Level
    name: str
    kind: str = ""  # the Textkennzeichen; empty for Länder and Regierungsbezirke

    @property
    def ars(self) -> str:
        """The key padded to 12 digits, as a tenant of this level writes its ARS."""
        return self.key.ljust(12, "0")

    @property
    def ags(self) -> str:
        """The 8-digit AGS: a Gemeinde's own; for the levels above, the padded Kreis part."""
        if self.level == "gemeinde":
            return self.key[:5] + self.key[9:]
        return self.key[:5].ljust(8, "0")

    @property
    def kreis(self) -> str:
        return self.key[:5]

    def describe(self) -> str:
        """``Kreis 05370 (Heinsberg)``, ``Gemeinde 05370004 (Erkelenz, Stadt)``."""
        label = {
            "land": "Land",
            "regierungsbezirk": "Regierungsbezirk",
            "kreis": "Kreis",
            "verband": KINDS.get(self.kind, "Gemeindeverband"),
            "gemeinde": "Gemeinde",
        }[self.level]
        if self.level == "kreis" and self.kind in ("41", "42"):
            label = "kreisfreie Stadt"
        shown = self.ags if self.level == "gemeinde" else self.key
        return f"{label} {shown} ({self.name})"


@dataclass(frozen=True)
class Source:
    """Where the shipped data comes from: Gebietsstand, publisher's file, licence."""

    gebietsstand: date
    title: str
    file: str
    licence: str
    states: Mapping[str, str] = field(default_factory=dict)  # Land key → name, covered ones


class Directory:
    """Lookups over the directory's entries; build once (`default_directory`), read often."""

    def __init__(self, entries: Iterable[Entry], source: Source) -> None:
        self.source = source
        self._by_key: dict[str, Entry] = {}
        self._gemeinden_by_ags: dict[str, Entry] = {}
        self._in_kreis: dict[str, list[Entry]] = defaultdict(list)
        for entry in entries:
            if len(entry.key) != KEY_LENGTH[entry.level] or not entry.key.isdigit():
                raise ValueError(f"{entry.level} key {entry.key!r} has the wrong form")
            self._by_key[entry.key] = entry
            if entry.level == "gemeinde":
                self._gemeinden_by_ags[entry.ags] = entry
                self._in_kreis[entry.kreis].append(entry)
        self._covered = frozenset(source.states)

    def __len__(self) -> int:
        return len(self._by_key)

    def entries(self) -> list[Entry]:
        return sorted(self._by_key.values(), key=lambda entry: entry.key)

    def covers(self, key: str) -> bool:
        """Whether the directory lists the Land of ``key`` (any AGS, ARS or shorter key)."""
        return key[:2] in self._covered

    def get(self, key: str) -> Entry | None:
        return self._by_key.get(key)

    def gemeinde_by_ags(self, ags: str) -> Entry | None:
        return self._gemeinden_by_ags.get(ags)

    def kreis_of(self, key: str) -> Entry | None:
        """The Kreis (or kreisfreie Stadt) a key lies in."""
        return self._by_key.get(key[:5])

    def region(self, ars: str) -> Entry | None:
        """What a tenant's 12-digit ARS names: a Gemeinde, Gemeindeverband, Kreis or Land."""
        found = self._by_key.get(ars)
        if found is not None:
            return found
        for level in ("verband", "kreis", "regierungsbezirk", "land"):
            length = KEY_LENGTH[level]
            if ars[length:].strip("0") == "":
                entry = self._by_key.get(ars[:length])
                if entry is not None and entry.level == level:
                    return entry
        return None

    def region_by_ags(self, ags: str) -> Entry | None:
        """What an 8-digit AGS names: a Gemeinde, or (``…000``) a Kreis or Land."""
        found = self._gemeinden_by_ags.get(ags)
        if found is not None:
            return found
        if ags[5:] == "000":
            if ags[2:5] == "000":
                return self._by_key.get(ags[:2])
            return self._by_key.get(ags[:5])
        return None

    def gemeinden_in_kreis(self, kreis: str) -> list[Entry]:
        """The Gemeinden of a Kreis (a kreisfreie Stadt: itself), by key."""
        return sorted(self._in_kreis.get(kreis[:5], []), key=lambda entry: entry.key)


def names_match(official: str, configured: str) -> bool:
    """Whether a configured name names the official one: ``Stadt Erkelenz`` ~ ``Erkelenz, Stadt``.

    The official name's core (before the comma, without parenthesised additions) must appear in
    the configured one, ignoring case, ``ß``/``ss`` and spacing.
    """
    core = re.sub(r"\([^)]*\)", " ", official.split(",", 1)[0])
    return _normal(core) in _normal(configured)


def _normal(text: str) -> str:
    return " ".join(text.casefold().replace("-", " ").split())


def read_csv(text: str) -> list[Entry]:
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
        raise ValueError(f"columns must be {','.join(CSV_COLUMNS)}")
    return [
        Entry(key=row["key"], level=row["level"], name=row["name"], kind=row["kind"])  # type: ignore[arg-type]
        for row in reader
    ]


def write_csv(entries: Sequence[Entry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in sorted(entries, key=lambda e: e.key):
        writer.writerow((entry.key, entry.level, entry.kind, entry.name))
    return out.getvalue()


def source_to_json(source: Source) -> str:
    document: dict[str, Any] = {
        "gebietsstand": source.gebietsstand.isoformat(),
        "title": source.title,
        "file": source.file,
        "licence": source.licence,
        "states": dict(sorted(source.states.items())),
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def source_from_json(text: str) -> Source:
    document = json.loads(text)
    return Source(
        gebietsstand=date.fromisoformat(document["gebietsstand"]),
        title=document["title"],
        file=document["file"],
        licence=document["licence"],
        states=dict(document["states"]),
    )


@functools.cache
def default_directory() -> Directory:
    """The directory shipped with ozgbridge (read once per process)."""
    data = resources.files("ozgbridge.regions").joinpath("data")
    entries = read_csv(data.joinpath(DATA_FILE).read_text(encoding="utf-8"))
    source = source_from_json(data.joinpath(META_FILE).read_text(encoding="utf-8"))
    return Directory(entries, source)
