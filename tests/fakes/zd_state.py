"""What the fake Zustelldienst holds: destinations and submissions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeDestination:
    id: str
    encryption_key: dict[str, Any]
    signature_keys: dict[str, dict[str, Any]]
    public_services: list[dict[str, Any]]
    status: str = "active"
    metadata_versions: list[str] = field(default_factory=lambda: ["1.0.0", "2.1.0"])
    callback: tuple[str, str] | None = None  # (url, secret) for new-submission callbacks


@dataclass
class FakeSubmission:
    id: str
    case_id: str
    destination_id: str
    sender: str
    announced: list[str]
    public_service: dict[str, Any]
    region: str | None
    callback: dict[str, Any] | None
    attachments: dict[str, str] = field(default_factory=dict)
    encrypted_metadata: str | None = None
    encrypted_data: str | None = None
    tags: dict[str, Any] | None = None

    @property
    def submitted(self) -> bool:
        return self.encrypted_metadata is not None
