"""Freed memory kept in the process while simulating (:mod:`sjconvert.exec.heap`)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sjconvert.exec import Simulator, heap
from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph

ROOT = Path(__file__).resolve().parents[2]
GLIBC = platform.libc_ver()[0] == "glibc"


# in a fresh interpreter, as a user's run: the test runner's own heap differs
KEPT = """
import ctypes
from sjconvert.exec import heap
print(heap.keep_freed_memory())
libc = ctypes.CDLL(None)
libc.sbrk.restype, libc.sbrk.argtypes = ctypes.c_void_p, [ctypes.c_ssize_t]
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
block = libc.malloc(24 << 20)  # a schedule's largest temporal tensor is 16 MiB
top = libc.sbrk(0)
libc.free(block)
print(block < top, libc.sbrk(0) == top)
"""


def _where_a_freed_block_goes(keep: bool) -> tuple[str, str, str]:
    """(settings taken, block from the heap, heap kept after its free) in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SJCONVERT_KEEP_HEAP": "1" if keep else "0"}
    done = subprocess.run(
        [sys.executable, "-c", KEPT], capture_output=True, text=True, env=env, timeout=120
    )
    taken, from_heap, kept = done.stdout.split()
    return taken, from_heap, kept


@pytest.mark.skipif(not GLIBC, reason="the setting is glibc's (mallopt); elsewhere a no-op")
def test_a_freed_block_stays_in_the_heap_for_the_next_one() -> None:
    """With glibc's defaults a 24 MiB block is mapped on its own and unmapped when freed, so
    the next one faults every page again (measured on the trained ConvNeXt: 30 000-48 000
    faults a run). Kept, it comes from the heap and the heap does not shrink when it is freed.
    Checked on the program break, not on page faults: those vary with torch's allocator."""
    assert _where_a_freed_block_goes(False) == ("False", "False", "True")
    assert _where_a_freed_block_goes(True) == ("True", "True", "True")


def test_the_setting_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SJCONVERT_KEEP_HEAP", "0")
    heap.keep_freed_memory.cache_clear()
    try:
        assert heap.keep_freed_memory() is False
    finally:
        heap.keep_freed_memory.cache_clear()


def test_a_simulation_keeps_freed_memory() -> None:
    g = Graph({"x": ir.Input((4,)), "if": ir.IF()}, {"x": (), "if": ("x",)}, ("if",))
    heap.keep_freed_memory.cache_clear()
    Simulator(g).run(torch.full((2, 4), 0.5), T=4)
    assert heap.keep_freed_memory.cache_info().currsize == 1
