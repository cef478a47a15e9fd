"""Metadata versions: the shipped schemas, choosing a version, building, and checking by $schema."""

from __future__ import annotations

import hashlib
from importlib.resources import files

import pytest

from connectors.fitconnect import metadata

# SHA-256 of the published files as copied (schemas/NOTICE names where each comes from).
PUBLISHED = {
    "1.0.0": "d61ad55c5d084195dbd403f512b39c0ff40ca66471b3d5902cb4401982948916",
    "2.1.0": "17e95343dfd54f894fc6bfbbb37915c4c04233b801f180e5b80d7139affd564c",
}
ATTACHMENT_ID = "5f1f6f3e-7c1d-4b8a-9a3e-2b8f0c6d1e2a"


def test_packaged_schemas_are_the_published_files_unchanged() -> None:
    for version, digest in PUBLISHED.items():
        raw = files("connectors.fitconnect") / "schemas" / f"metadata.schema.v{version}.json"
        assert hashlib.sha256(raw.read_bytes()).hexdigest() == digest
        assert metadata.schema(version)["$id"] == metadata.schema_uri(version)
    assert set(PUBLISHED) == set(metadata.SHIPPED_VERSIONS)


@pytest.mark.parametrize(
    ("offered", "pinned", "chosen"),
    [
        (["1.0.0", "2.1.0"], None, "2.1.0"),
        (["1.0.0", "1.2.0", "2.1.0", "3.0.0"], None, "2.1.0"),  # 3.0.0: not shipped
        (["1.0.0"], None, "1.0.0"),
        (None, None, "1.0.0"),  # a destination that lists none: 1.0.0 only
        (["1.0.0", "2.1.0"], "1.0.0", "1.0.0"),
    ],
)
def test_the_newest_version_both_sides_know_is_chosen(
    offered: list[str] | None, pinned: str | None, chosen: str
) -> None:
    assert metadata.choose_version(offered, pinned) == chosen


def test_no_common_version_or_a_pin_the_destination_refuses_is_an_error() -> None:
    with pytest.raises(metadata.UnsupportedVersion, match="no metadata version shipped"):
        metadata.choose_version(["1.3.0"])
    with pytest.raises(metadata.UnsupportedVersion, match="not accepted"):
        metadata.choose_version(["2.1.0"], "1.0.0")


def build(version: str, fragments: tuple[str, ...] = ()) -> dict[str, object]:
    return metadata.build(
        version=version,
        leika_key="99050012104000",
        service_name="Gewerbeanmeldung",
        data_sha512=metadata.sha512_hex(b"{}"),
        schema_uri_of_data="urn:example:1",
        schema_mime_type="application/json",
        attachments=[
            metadata.AttachmentEntry(
                attachment_id=ATTACHMENT_ID,
                filename="x.pdf",
                mime_type="text/plain\r\nX-Injected: 1",
                purpose="attachment",
                sha512=metadata.sha512_hex(b""),
                fragments=fragments,
            )
        ],
        sender_reference="A/B",
        application_date="2024-06-03",
    )


@pytest.mark.parametrize("version", metadata.SHIPPED_VERSIONS)
def test_built_metadata_names_its_schema_and_follows_it(version: str) -> None:
    document = build(version)

    assert document["$schema"] == (
        f"https://schema.fitko.de/fit-connect/metadata/{version}/metadata.schema.json"
    )
    assert metadata.validate_incoming(document) == version
    [entry] = document["contentStructure"]["attachments"]  # type: ignore[index]
    assert entry["mimeType"] == "application/octet-stream"  # unusable MIME types fall back
    # 1.x names the service in the metadata, 2.x only in the Submission API's publicService.
    assert ("publicServiceType" in document) == version.startswith("1.")


def test_fragments_need_metadata_2() -> None:
    fragment_ids = ("0f1f6f3e-7c1d-4b8a-9a3e-2b8f0c6d1e2a", "1f1f6f3e-7c1d-4b8a-9a3e-2b8f0c6d1e2a")
    [entry] = build("2.1.0", fragment_ids)["contentStructure"]["attachments"]  # type: ignore[index]
    assert entry["fragments"] == list(fragment_ids)
    with pytest.raises(metadata.MetadataInvalid, match="fragmented"):
        build("1.0.0", fragment_ids)


def test_incoming_metadata_is_checked_against_the_schema_it_names() -> None:
    document = build("2.1.0")
    del document["contentStructure"]["data"]  # type: ignore[attr-defined]
    with pytest.raises(metadata.MetadataInvalid, match=r"schema 2\.1\.0"):
        metadata.validate_incoming(document)  # 2.x requires data; 1.0.0 would not
    unknown = {**build("2.1.0"), "$schema": metadata.schema_uri("9.9.9")}
    with pytest.raises(metadata.UnsupportedVersion):
        metadata.validate_incoming(unknown)
    foreign = {**build("2.1.0"), "$schema": "https://example.org/metadata.schema.json"}
    with pytest.raises(metadata.UnsupportedVersion):
        metadata.validate_incoming(foreign)
    unnamed = build("1.0.0")
    del unnamed["$schema"]
    assert metadata.validate_incoming(unnamed) == "1.0.0"


def test_schema_violations_name_the_place_not_the_value() -> None:
    with pytest.raises(metadata.MetadataInvalid, match="contentStructure") as caught:
        metadata.validate({"contentStructure": {"attachments": "Erika Mustermann"}}, "1.0.0")

    assert "Erika" not in str(caught.value)
