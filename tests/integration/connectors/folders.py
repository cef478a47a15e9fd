"""Reading delivery folders back (the layout of `connectors.folder_layout`) for the contract."""

from __future__ import annotations

import json
from pathlib import Path

from ozgbridge.testing.contract import Received


def deliveries(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if not p.name.startswith("."))


def read_delivery(folder: Path) -> Received:
    manifest = json.loads((folder / "envelope.json").read_text("utf-8"))
    [data] = list(folder.glob("data.*"))
    files = sorted((folder / "attachments").iterdir())
    assert len(files) == len(manifest["attachments"])
    return Received(
        delivery_id=manifest["deliveryId"],
        application_id=manifest["applicationId"],
        data=data.read_bytes(),
        data_mime_type=manifest["data"]["mimeType"],
        attachments=tuple(f.read_bytes() for f in files),
    )


def all_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}
