"""Freed memory kept in the process while simulating on the CPU (glibc's ``malloc``).

A simulation allocates the same temporal tensors block after block (each ``[steps·n, ...]``,
up to :data:`~.plan.BLOCK_ELEMENTS` float32 values: 16 MiB) and frees them as soon as they
are last read. With glibc's defaults a freed block at the top of the heap is handed back to
the system once the free space there passes the trim threshold (twice the largest block
mapped so far), and the next block of that size is mapped again page by page: every page
faults and is zeroed by the kernel. Measured on the trained ConvNeXt (100 samples, T = 16,
one thread): 30 000–48 000 page faults and 0.08–0.19 s of system time per run against 0.6 s
of user time, where T ANN passes fault none (their tensors are 16 times smaller).

:func:`keep_freed_memory` sets, once per process, glibc's mapping threshold to its largest
value (:data:`MMAP_THRESHOLD`: blocks up to 32 MiB come from the heap) and the trim
threshold to :data:`TRIM_THRESHOLD`: up to that much free memory at the top of the heap
stays mapped for the next block. Nothing is computed differently: only where the memory
comes from. Elsewhere than glibc, or with ``SJCONVERT_KEEP_HEAP=0``, it does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import os

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest (DEFAULT_MMAP_THRESHOLD_MAX on 64 bits)
TRIM_THRESHOLD = 512 << 20


@functools.cache
def keep_freed_memory() -> bool:
    """Keep freed blocks of up to 32 MiB, and up to 512 MiB of free heap, in the process
    (glibc only; once per process). Returns whether the allocator took the settings."""
    if os.environ.get("SJCONVERT_KEEP_HEAP", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only: raises AttributeError elsewhere
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    mapped = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    return bool(mapped and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
