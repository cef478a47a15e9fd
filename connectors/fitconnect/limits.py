"""Sizes and counts FIT-Connect allows, in one place for the sender, the subscriber and tests.

From the issue's reading of FITKO's documentation (docs.fitko.de/fit-connect, "Anlagen" / large
attachments): up to 100 attachments and 2 GB per submission, up to 500 MB per attachment, and
attachments above 200 MB sent as fragments (metadata 2.x ``fragments``). The exact byte values
are an assumption (README, FIT-Connect section): MiB/GiB, so a limit is never overshot by the
decimal/binary difference. Module attributes (not constants baked into functions), so tests can
shrink them instead of moving hundreds of megabytes.
"""

from __future__ import annotations

MiB = 1024 * 1024

MAX_ATTACHMENTS = 100
MAX_ATTACHMENT_BYTES = 500 * MiB
MAX_SUBMISSION_BYTES = 2048 * MiB
# An attachment above this is split into fragments; no single upload may be larger.
MAX_UPLOAD_BYTES = 200 * MiB
# Fragment size: well under the upload limit, so memory per upload stays small.
FRAGMENT_BYTES = 64 * MiB


def fragment_ranges(size: int) -> list[tuple[int, int]]:
    """``[start, end)`` byte ranges of the fragments of an attachment of ``size`` bytes; one
    range (the whole) when it needs no fragmenting."""
    if size <= MAX_UPLOAD_BYTES:
        return [(0, size)]
    step = min(FRAGMENT_BYTES, MAX_UPLOAD_BYTES)
    return [(start, min(start + step, size)) for start in range(0, size, step)]
