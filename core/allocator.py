"""glibc's allocator told to give large blocks back to the system (issue 18: peak memory).

By default glibc raises its mmap threshold each time a large block is freed; blocks of that
size then come from the heap, where freed memory stays resident until the top of the heap
is free. A long recording's features, filters and decoders come and go in blocks of tens of
megabytes, so the resident size kept growing past what was alive (a 10-minute edit: 816 MB
against 653 MB with the threshold fixed at 256 kB). A fixed threshold keeps each large block in its
own mapping, returned when freed. It changes where memory comes from, never what is computed.
The threshold is 4 MB: at 256 kB the peaks were the same (a 10-minute detect: 606 MB
against 611 MB) but mapping every medium array cost a third more CPU in `detect`.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
LARGE_BLOCK = 4 << 20


def give_back_large_blocks(threshold: int = LARGE_BLOCK) -> bool:
    """Fix glibc's mmap threshold at `threshold` bytes (and trim the heap above twice that).
    False where it does not apply: not Linux, not glibc, or the user set MALLOC_* already."""
    if not sys.platform.startswith("linux") or any(
            k in os.environ for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, threshold)
                and mallopt(M_TRIM_THRESHOLD, 2 * threshold))
