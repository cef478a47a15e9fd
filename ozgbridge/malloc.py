"""Give large buffers back to the system when they are freed (glibc).

glibc serves allocations above its mmap threshold (128 KiB) with their own mappings, which
``free`` returns to the system at once. But the threshold is dynamic: each freed mapping raises it
to that mapping's size (up to 32 MiB), so after the first 15 MB attachment every later one comes
from the heap, and a heap shrinks only from its top — the process keeps its high-water mark.
With the threshold fixed (``mallopt(M_MMAP_THRESHOLD)``, as ``MALLOC_MMAP_THRESHOLD_`` does),
resident memory follows the content actually held: measured with ``./dev bench --only memory``,
10 concurrent 20 MiB uploads raised the peak by ~270–310 MiB with the dynamic threshold and by
~130 MiB with the fixed one.

Fixed at 512 KiB, not glibc's initial 128 KiB: asyncio reads every socket into a fresh 256 KiB
buffer (``recv(max_size)``), trimmed to what arrived. Below that size each read became a mapping
of its own — mmap, mremap and munmap for every request and every database answer, ~15 % of the
CPU of a small request (``GET /healthz`` over keep-alive: 0.096 → 0.077–0.084 ms per request,
strace showing the three calls per request gone). Attachments, megabytes each, still get their own
mappings and go back to the system when freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

import structlog

log = structlog.get_logger("ozgbridge.malloc")

_M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
THRESHOLD = 512 * 1024


def fix_mmap_threshold() -> bool:
    """Fix glibc's mmap threshold, unless the environment already set it; False elsewhere."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return True
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_MMAP_THRESHOLD, THRESHOLD))
    if not done:
        log.warning("malloc.threshold_not_set")
    return done
