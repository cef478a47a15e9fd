"""Reading a v2 destination: publicServices, submissionSchemas, regions, metadataVersions, kid."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.fitconnect import destination

DESTINATION = "7b7ba4f2-9d6c-4f1e-8f33-0c1a2b3c4d5e"
LEIKA = "99050012104000"
SCHEMA = "urn:xoev-de:example:gewerbeanmeldung:1.0"
RS = "urn:de:bund:destatis:bevoelkerungsstatistik:schluessel:rs:"


def answer(**changes: Any) -> dict[str, Any]:
    """A destination as the v2 API answers it (no v1 ``services`` field)."""
    info: dict[str, Any] = {
        "destinationId": DESTINATION,
        "status": "active",
        "publicServices": [
            {
                "identifier": f"urn:de:fim:leika:leistung:{LEIKA}",
                "name": "Gewerbeanmeldung",
                "submissionSchemas": [
                    {"schemaUri": SCHEMA, "mimeType": "application/xml"},
                    {"schemaUri": SCHEMA, "mimeType": "application/json"},
                ],
                "regions": [f"{RS}05", f"{RS}05370", f"{RS}053700004004"],
            }
        ],
        "metadataVersions": ["1.0.0", "2.1.0"],
        "encryptionKid": "enc-key-1",
    }
    info.update(changes)
    return info


def plan(info: dict[str, Any], ars: str = "053700004004", pinned: str | None = None) -> Any:
    return destination.plan(
        info,
        destination_id=DESTINATION,
        leika_key=LEIKA,
        ars=ars,
        schema_uri=SCHEMA,
        data_mime_type="application/json",
        pinned_version=pinned,
    )


def test_a_v2_destination_is_read_from_public_services() -> None:
    chosen = plan(answer())

    assert chosen.metadata_version == "2.1.0"
    assert chosen.schema_mime_type == "application/json"  # the one the data claims, not the first
    assert chosen.encryption_kid == "enc-key-1"
    assert chosen.region == f"{RS}053700004004"  # the most specific listed region covering ours


def test_the_region_is_the_covering_one_or_none() -> None:
    assert plan(answer(), ars="053700016016").region == f"{RS}05370"
    assert plan(answer(), ars="057110000000").region == f"{RS}05"
    assert plan(answer(), ars="091620000000").region is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": "inactive"}, "'inactive', not active"),
        ({"publicServices": []}, "does not accept service"),
        # v1 field names are not read: a v1-shaped answer offers nothing.
        (
            {"publicServices": None, "services": answer()["publicServices"]},
            "does not accept service",
        ),
        ({"metadataVersions": ["1.4.0"]}, "no metadata version shipped"),
        ({"encryptionKid": None}, "names no encryption key"),
        ({"encryptionKid": "../keys"}, "names no encryption key"),
    ],
)
def test_destinations_that_cannot_take_the_submission_are_refused(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(destination.DestinationRefused, match=message):
        plan(answer(**changes))


def test_other_schemas_and_pins_the_destination_refuses() -> None:
    other = answer()
    other["publicServices"][0]["submissionSchemas"] = [
        {"schemaUri": "urn:other", "mimeType": "application/json"}
    ]
    with pytest.raises(destination.DestinationRefused, match="data's schema"):
        plan(other)
    with pytest.raises(destination.DestinationRefused, match="not accepted"):
        plan(answer(metadataVersions=["2.1.0"]), pinned="1.0.0")
    assert plan(answer(metadataVersions=["1.0.0"])).metadata_version == "1.0.0"
