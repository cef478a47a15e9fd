"""How an envelope's attachments travel: FIT-Connect's limits, fragments, one upload at a time.

Attachments above `limits.MAX_UPLOAD_BYTES` are split into fragments; each fragment is announced
and uploaded under its own id and the metadata entry of the attachment lists those ids in
``fragments`` (metadata schema 2.1.0, ``contentStructure.attachments.items.fragments``: "UUIDs der
Fragmente dieses Attachments"), with the hash over the whole attachment. That the attachment's
own id is then not uploaded is an assumption (README, FIT-Connect section).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from joserfc.jwk import RSAKey

from connectors.fitconnect import crypto, limits, metadata
from ozgbridge.domain import AttachmentData
from ozgbridge.errors import PermanentDeliveryError


@dataclass(frozen=True)
class Upload:
    upload_id: str  # announced and uploaded under this id
    attachment: int  # index into the envelope's attachments
    start: int
    end: int


def check_limits(attachments: tuple[AttachmentData, ...]) -> None:
    """FIT-Connect's size and count limits (`limits`), as a permanent failure naming the limit."""
    if len(attachments) > limits.MAX_ATTACHMENTS:
        raise PermanentDeliveryError(
            f"{len(attachments)} attachments; FIT-Connect takes at most {limits.MAX_ATTACHMENTS}"
        )
    total = 0
    for number, a in enumerate(attachments, start=1):
        size = len(a.content)
        total += size
        if size > limits.MAX_ATTACHMENT_BYTES:
            raise PermanentDeliveryError(
                f"attachment {number} has {size} bytes; FIT-Connect takes at most "
                f"{limits.MAX_ATTACHMENT_BYTES} per attachment"
            )
    if total > limits.MAX_SUBMISSION_BYTES:
        raise PermanentDeliveryError(
            f"attachments total {total} bytes; FIT-Connect takes at most "
            f"{limits.MAX_SUBMISSION_BYTES} per submission"
        )


def layout(
    attachments: tuple[AttachmentData, ...], version: str
) -> tuple[list[str], list[tuple[str, ...]], list[Upload]]:
    """Attachment ids, each attachment's fragment ids (empty: uploaded whole), and the uploads."""
    ids: list[str] = []
    fragments: list[tuple[str, ...]] = []
    uploads: list[Upload] = []
    for index, a in enumerate(attachments):
        attachment_id = str(uuid.uuid4())
        ids.append(attachment_id)
        ranges = limits.fragment_ranges(len(a.content))
        if len(ranges) == 1:
            fragments.append(())
            uploads.append(Upload(attachment_id, index, 0, len(a.content)))
            continue
        if not metadata.is_fragmentable(version):
            raise PermanentDeliveryError(
                f"attachment {index + 1} exceeds {limits.MAX_UPLOAD_BYTES} bytes and must be sent "
                f"in fragments, which metadata {version} (all the destination accepts) cannot"
            )
        fragment_ids = tuple(str(uuid.uuid4()) for _ in ranges)
        fragments.append(fragment_ids)
        uploads += [
            Upload(fid, index, start, end)
            for fid, (start, end) in zip(fragment_ids, ranges, strict=True)
        ]
    if len(uploads) > limits.MAX_ATTACHMENTS:
        raise PermanentDeliveryError(
            f"{len(uploads)} uploads with fragments; FIT-Connect takes at most "
            f"{limits.MAX_ATTACHMENTS}"
        )
    return ids, fragments, uploads


def encrypt_upload(attachment: AttachmentData, upload: Upload, key: RSAKey) -> str:
    content = attachment.content
    part = (
        content
        if (upload.start, upload.end) == (0, len(content))
        else content[upload.start : upload.end]
    )
    return crypto.encrypt(part, key, content_type=metadata.safe_mime_type(attachment.mime_type))
