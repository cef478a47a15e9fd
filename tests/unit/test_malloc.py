"""The fixed mmap threshold sits between asyncio's socket reads and attachment-sized buffers."""

from __future__ import annotations

import sys
from asyncio import selector_events

from ozgbridge import malloc


def test_socket_reads_stay_below_the_threshold() -> None:
    # Every read allocates a bytes object of max_size first; at or above the threshold each
    # one would be a mapping of its own (mmap, mremap, munmap per request).
    transport = selector_events._SelectorTransport  # type: ignore[attr-defined]  # not in typeshed
    read_buffer = sys.getsizeof(b"") + transport.max_size
    assert read_buffer < malloc.THRESHOLD


def test_attachment_sized_buffers_still_get_their_own_mappings() -> None:
    # A 1 MiB attachment or larger must go back to the system when freed (./dev bench --only
    # memory): that is why the threshold is fixed at all.
    assert malloc.THRESHOLD <= 1024 * 1024
