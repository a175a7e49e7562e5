"""A shared thread pool for work that torch runs single-threaded but GIL-free (small
elementwise chunks, bincount)."""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor


@functools.cache
def executor(workers: int) -> ThreadPoolExecutor:
    """A process-wide pool with ``workers`` threads (one per size, created on first use)."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sjconvert")
