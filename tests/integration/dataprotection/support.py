"""Looking at a database the way someone with the disk (or a dump) would: raw bytes."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import IN_CI

# Distinctive strings that occur nowhere but in the content a test submits.
MARKERS = {
    "form data": "Zeugin-Qx7K-Formularinhalt",
    "attachment": "Scan-Qx7K-Ausweisinhalt",
    "file name": "Qx7K-Mustermann-Ausweis",
}


def sqlite_files(database_url: str) -> list[Path]:
    """The main file and, when there is one, its write-ahead log."""
    main = Path(str(make_url(database_url).database))
    return [path for path in (main, Path(f"{main}-wal")) if path.exists()]


async def pg_dump(database_url: str) -> bytes:
    """``pg_dump`` of the database (plain SQL: bytea appears hex-encoded)."""
    binary = shutil.which("pg_dump")
    if binary is None:
        message = "pg_dump not installed (apt-get install postgresql-client)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    url = make_url(database_url)
    uri = f"postgresql://{url.username}@{url.host}:{url.port or 5432}/{url.database}"
    process = await asyncio.create_subprocess_exec(
        binary,
        "--no-owner",
        f"--dbname={uri}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode(errors="replace")
    return out


async def raw_database(database_url: str) -> bytes:
    """Every byte the database holds: SQLite's files, or a dump of the PostgreSQL database."""
    if database_url.startswith("sqlite"):
        files = sqlite_files(database_url)
        assert files, f"no database file for {database_url}"
        return b"".join(path.read_bytes() for path in files)
    return await pg_dump(database_url)


def markers_in(raw: bytes) -> set[str]:
    """Which markers occur in ``raw`` — as text, UTF-16, or hex (PostgreSQL's bytea output)."""
    found = set()
    for what, marker in MARKERS.items():
        encoded = marker.encode()
        forms = (encoded, marker.encode("utf-16-le"), encoded.hex().encode())
        if any(form in raw for form in forms):
            found.add(what)
    return found
