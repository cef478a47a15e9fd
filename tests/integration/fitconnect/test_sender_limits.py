"""Large attachments: one upload's ciphertext at a time, fragments above the upload limit, and
FIT-Connect's limits refused with the limit named; metadata 1.0.0 for destinations without 2.x."""

from __future__ import annotations

import gc
import random
import tracemalloc

import pytest

from connectors.fitconnect import limits
from ozgbridge.domain import AttachmentData
from ozgbridge.errors import PermanentDeliveryError
from ozgbridge.testing.factories import make_attachment, make_envelope
from tests.integration.fitconnect.support import (
    GEWERBE,
    FitConnectStandIn,
    official_validator,
    open_submission,
)

MiB = 1024 * 1024


def big(size: int) -> AttachmentData:
    return make_attachment(
        filename="scan.tif", mime_type="image/tiff", content=random.Random(7).randbytes(size)
    )


async def test_a_large_attachment_is_never_held_twice(
    standin: FitConnectStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_UPLOAD_BYTES", 2 * MiB)
    monkeypatch.setattr(limits, "FRAGMENT_BYTES", 1 * MiB)
    standin.zd.max_upload_bytes = 2 * MiB
    envelope = make_envelope(attachments=(big(12 * MiB),))
    # tracemalloc slows every allocation; on a loaded machine 12 fragments take a while.
    connector = standin.connector(timeout=180)
    await connector.deliver(make_envelope())  # token, keys and connections warmed up

    tracemalloc.start()
    try:
        await connector.deliver(envelope)
        _, peak = tracemalloc.get_traced_memory()
        gc.collect()
        retained, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # What is left at the end is what the fake (in this process) keeps: the uploaded JWEs.
    # Everything above it was transient: encrypting all fragments first would need their
    # ciphertexts at once (16 MiB as base64url); one upload at a time needs a few fragments.
    assert retained >= 12 * MiB
    assert peak - retained < 10 * MiB
    second = standin.zd.submitted()[-1]
    opened = open_submission(second)
    [(entry, content, _)] = opened.attachments
    assert content == envelope.attachments[0].content
    assert len(entry["fragments"]) == 12


@pytest.mark.parametrize(
    ("shrink", "attachments", "message"),
    [
        ({"MAX_ATTACHMENTS": 2}, 3, "at most 2"),
        ({"MAX_ATTACHMENT_BYTES": 1000}, 1, "at most 1000 per attachment"),
        ({"MAX_SUBMISSION_BYTES": 1500}, 2, "at most 1500 per submission"),
    ],
)
async def test_beyond_fit_connects_limits_the_delivery_is_dead_naming_the_limit(
    standin: FitConnectStandIn,
    monkeypatch: pytest.MonkeyPatch,
    shrink: dict[str, int],
    attachments: int,
    message: str,
) -> None:
    for name, value in shrink.items():
        monkeypatch.setattr(limits, name, value)
    envelope = make_envelope(attachments=tuple(big(1200) for _ in range(attachments)))

    with pytest.raises(PermanentDeliveryError, match=message):
        await standin.connector().deliver(envelope)

    assert standin.zd.submissions == {}


async def test_a_destination_without_metadata_2_gets_1_0_0_and_no_fragments(
    standin: FitConnectStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    standin.destination.metadata_versions = ["1.0.0"]

    await standin.connector().deliver(make_envelope())

    [submission] = standin.zd.submitted()
    document = open_submission(submission).metadata
    assert document["$schema"].endswith("/1.0.0/metadata.schema.json")
    assert document["publicServiceType"]["identifier"] == f"urn:de:fim:leika:leistung:{GEWERBE}"
    official_validator(document).validate(document)

    monkeypatch.setattr(limits, "MAX_UPLOAD_BYTES", 1000)
    with pytest.raises(PermanentDeliveryError, match="fragments"):
        await standin.connector().deliver(make_envelope(attachments=(big(1200),)))
