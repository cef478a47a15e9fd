#!/usr/bin/env python3
"""Refresh ozgbridge's municipality directory from Destatis' published GV100AD file.

    scripts/refresh-gemeindeverzeichnis.py --gebietsstand 2024-12-31     # download, convert
    scripts/refresh-gemeindeverzeichnis.py --file GV100AD3112.zip        # a file you downloaded
    scripts/refresh-gemeindeverzeichnis.py --file GV100AD_311224.txt --states 05,06

Destatis publishes the Gemeindeverzeichnis (GV-ISys) quarterly as a ZIP holding
``GV100AD_DDMMYY.txt`` under
https://www.destatis.de/DE/Themen/Laender-Regionen/Regionales/Gemeindeverzeichnis/ (Administrativ
→ Archiv → GV100ADQ). Licence: Datenlizenz Deutschland – Namensnennung – Version 2.0. The script
writes ``ozgbridge/regions/data/gemeindeverzeichnis.csv`` and ``.json`` (the Gebietsstand, the
file and the Länder it covers); then review the diff, update ``data/SOURCE.md`` and run
``ozgbridge config validate`` against your configuration.
"""

from __future__ import annotations

import argparse
import io
import sys
import urllib.request
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ozgbridge.regions import directory, gv100ad  # noqa: E402

URL = (
    "https://www.destatis.de/DE/Themen/Laender-Regionen/Regionales/Gemeindeverzeichnis/"
    "Administrativ/Archiv/GV100ADQ/GV100AD{ddmm}.zip?__blob=publicationFile"
)
TITLE = (
    "Gemeindeverzeichnis-Informationssystem GV-ISys, GV100AD (Auszug, administrative Gliederung)"
)
LICENCE = (
    "Datenlizenz Deutschland – Namensnennung – Version 2.0 (dl-de/by-2-0); "
    "© Statistisches Bundesamt (Destatis)"
)


def _read(data: bytes, name: str) -> tuple[str, bytes]:
    """The GV100AD text inside a ZIP (or the bytes themselves), with its file name."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return name, data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        texts = [n for n in archive.namelist() if Path(n).name.upper().startswith("GV100AD_")]
        if len(texts) != 1:
            raise SystemExit(f"{name}: expected one GV100AD_*.txt inside, found {texts}")
        return Path(texts[0]).name, archive.read(texts[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--gebietsstand", help="YYYY-MM-DD of a quarterly file, downloaded")
    source.add_argument("--url", help="download this ZIP or text file")
    source.add_argument("--file", type=Path, help="a downloaded ZIP or GV100AD_*.txt")
    parser.add_argument("--states", help="comma-separated Land keys to keep (default: all)")
    parser.add_argument(
        "--out", type=Path, default=REPO / "ozgbridge" / "regions" / "data", help="target folder"
    )
    args = parser.parse_args()

    if args.file is not None:
        name, data = _read(args.file.read_bytes(), args.file.name)
    else:
        url = args.url or URL.format(ddmm=args.gebietsstand[8:10] + args.gebietsstand[5:7])
        with urllib.request.urlopen(url, timeout=120) as answer:  # noqa: S310 - fixed https URL
            name, data = _read(answer.read(), url.rsplit("/", 1)[-1])

    try:
        parsed = gv100ad.parse(gv100ad.iter_lines(data))
    except gv100ad.GV100ADError as exc:
        raise SystemExit(f"{name}: {exc}") from exc
    entries = parsed.entries
    if args.states:
        keep = {state.strip() for state in args.states.split(",")}
        entries = [entry for entry in entries if entry.key[:2] in keep]
    states = {entry.key: entry.name for entry in entries if entry.level == "land"}
    if not states:
        raise SystemExit(f"{name}: no Land records (Satzart 10) left")
    source = directory.Source(parsed.gebietsstand, TITLE, name, LICENCE, states)
    checked = directory.Directory(entries, source)  # refuses malformed keys before writing

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / directory.DATA_FILE).write_text(directory.write_csv(entries), encoding="utf-8")
    (args.out / directory.META_FILE).write_text(directory.source_to_json(source), encoding="utf-8")
    gemeinden = sum(1 for entry in entries if entry.level == "gemeinde")
    print(
        f"{name}: Gebietsstand {parsed.gebietsstand}, {len(states)} Länder, "
        f"{gemeinden} Gemeinden, {len(checked)} entries → {args.out}"
    )


if __name__ == "__main__":
    main()
