"""The one-folder-per-application layout shared by ``filedrop`` and ``sftp``, without any disk."""

from __future__ import annotations

import json

import pytest

from connectors import folder_layout as layout
from ozgbridge.errors import PermanentDeliveryError, RetriableDeliveryError
from ozgbridge.testing.factories import make_attachment, make_envelope


def test_files_in_writing_order_with_the_manifest_last() -> None:
    envelope = make_envelope()

    files = layout.folder_files(envelope)

    assert [f.relative_path for f in files] == [
        "data.json",
        "attachments/01-Personalausweis Erika Mustermann.pdf",
        "attachments/02-Grundriss Gaststätte Heideweg.jpg",
        "envelope.json",
    ]
    assert files[0].content == envelope.data.content
    assert [f.content for f in files[1:3]] == [a.content for a in envelope.attachments]
    assert json.loads(files[-1].content) == envelope.manifest()
    assert files[-1].content.endswith(b"}\n")


def test_numbering_widens_past_99_attachments() -> None:
    envelope = make_envelope(attachments=tuple(make_attachment(content=b"") for _ in range(100)))

    names = layout.attachment_names(envelope)

    assert names[0] == "001-Personalausweis Erika Mustermann.pdf"
    assert names[-1] == "100-Personalausweis Erika Mustermann.pdf"
    assert len(set(names)) == 100


def test_a_broken_sanitiser_cannot_name_a_path_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for broken in ("x/../../outside", "..\\..\\x", "a\x00b"):
        monkeypatch.setattr(layout, "sanitise_filename", lambda name, fallback, b=broken: b)
        with pytest.raises(PermanentDeliveryError, match="outside the drop directory"):
            layout.folder_files(make_envelope())


def test_staging_names_belong_to_their_delivery_and_are_dot_names() -> None:
    envelope = make_envelope(attempt=3)

    first, second = layout.staging_name(envelope), layout.staging_name(envelope)

    prefix = f".tmp-{envelope.application_id}-{envelope.delivery_id}-"
    assert layout.staging_prefix(envelope) == prefix
    assert first.startswith(prefix + "3-")
    assert first != second
    assert not layout.staging_prefix(make_envelope()).startswith(prefix)


@pytest.mark.parametrize("bad", ["../x", "a/b", ".hidden", "", "x" * 101, "ä"])
def test_ids_unusable_as_folder_names_are_permanent(bad: str) -> None:
    with pytest.raises(PermanentDeliveryError, match="application id"):
        layout.folder_name(make_envelope(application_id=bad))
    with pytest.raises(PermanentDeliveryError, match="delivery id"):
        layout.folder_name(make_envelope(delivery_id=bad))


def test_judging_what_stands_at_the_folders_place() -> None:
    envelope = make_envelope()
    mine = layout.manifest_bytes(envelope)
    theirs = layout.manifest_bytes(make_envelope(application_id=envelope.application_id))

    receipt = layout.judge_existing("folder", mine, envelope)

    assert (receipt.remote_reference, receipt.detail) == (
        envelope.application_id,
        "already delivered",
    )
    with pytest.raises(PermanentDeliveryError, match="different delivery"):
        layout.judge_existing("folder", theirs, envelope)
    with pytest.raises(PermanentDeliveryError, match="non-folder"):
        layout.judge_existing("other", mine, envelope)
    for unreadable in (None, b"", b"{", b"[]", b'{"id": 1}', b"\xff\xfe"):
        with pytest.raises(RetriableDeliveryError, match=r"without a readable envelope\.json"):
            layout.judge_existing("folder", unreadable, envelope)
