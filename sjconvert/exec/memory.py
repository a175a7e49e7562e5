"""What a simulation needs in memory, before it runs, and a refusal in one line when that
does not fit.

A run keeps only what it must (:mod:`.plan`, :mod:`.schedule`): per chunk of samples the
static values (computed once), the temporal values of one block of steps that are alive
together, the state registers, and over the whole batch the running sums and the kept
means and event counts. None of it grows with T except the kept steps, so::

    bytes ≈ parameters + chunk values (static, live temporal, state) + kept results

estimated from the graph's shapes by walking its schedule (values freed after their last
reader). The estimate is an upper bound of the simulator's own arrays (torch's workspace
for a convolution is not counted; the process itself takes a few hundred MB more).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from pathlib import Path

from ..errors import InputError
from ..ir import nodes as ir
from ..ir import walk
from ..ir.graph import Graph
from ..ops import has_program, step_program
from .plan import BLOCK_ELEMENTS, plan
from .schedule import last_uses
from .shapes import with_shapes

SIZES = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def _registers(node: ir.Node) -> int:
    """Values per element a stateful node keeps: its step program's state registers, and
    its temporaries (whole-chunk arrays where the program runs op by op)."""
    if not has_program(node):
        return 2
    program = step_program(node)
    return len(program.state) + len(program.temps)


def _chunk_bytes(graph: Graph, steps: int, samples: int, dtype_bytes: int) -> int:
    """The most bytes of values alive at once in one chunk, the static values and the
    state registers included."""
    moving = walk.temporal(graph)
    free = last_uses(graph)
    size = {n: math.prod(s) * samples * dtype_bytes for n, s in graph.shapes.items()}
    static = sum(size[n] for n in graph.nodes if n not in moving)
    state = sum(size[n] * _registers(node) for n, node in graph if node.stateful)
    live, peak = 0, 0
    for name, _ in graph:
        if name in moving:
            live += size[name] * steps
            peak = max(peak, live)
        for src in free.get(name, ()):
            live -= size[src] * steps if src in moving else 0
    return static + state + 2 * peak  # a kernel's inputs and outputs, and copies


def estimate(
    graph: Graph,
    n: int,
    T: int,
    keep: Iterable[int] | None = None,
    dtype_bytes: int = 4,
    elements: int = BLOCK_ELEMENTS,
) -> int:
    """Bytes a CPU simulation of ``n`` samples for ``T`` steps keeps in memory, keeping the
    running means after the steps in ``keep`` (every step when None)."""
    graph = with_shapes(graph)
    block, samples = plan(graph, n, elements)
    params = sum(
        getattr(node, f).nbytes
        for _, node in graph
        for f in node.params()
        if hasattr(getattr(node, f), "nbytes")
    )
    kept = T if keep is None else len({t for t in keep if 1 <= t <= T})
    outputs = sum(math.prod(graph.shapes[o]) for o in graph.outputs)
    layers = sum(1 for _, node in graph if node.spiking)
    results = n * (kept * (outputs * (dtype_bytes + 8) + layers * 16) + layers * 16)
    chunk = _chunk_bytes(graph, min(block, T), samples, dtype_bytes)
    return params + chunk + results


def parse_size(value: int | str) -> int:
    """Bytes from ``4000000``, ``"512M"``, ``"4G"``, ``"1.5GB"`` (powers of 1024)."""
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)[bB]?\s*", str(value))
    if m is None:
        raise InputError(f"memory size {value!r}: expected bytes or a number with K, M, G, T")
    return int(float(m.group(1)) * SIZES[m.group(2).lower()])


def available() -> int | None:
    """Memory the system can give a new allocation now (Linux ``MemAvailable``), or None."""
    try:
        info = Path("/proc/meminfo").read_text()
    except OSError:
        pages = os.sysconf("SC_AVPHYS_PAGES") if hasattr(os, "sysconf") else -1
        return pages * os.sysconf("SC_PAGE_SIZE") if pages > 0 else None
    m = re.search(r"^MemAvailable:\s+(\d+) kB", info, re.M)
    return int(m.group(1)) * 1024 if m else None


def check_memory(
    graph: Graph,
    n: int,
    T: int,
    keep: Iterable[int] | None = None,
    limit: int | str | None = None,
) -> int:
    """The estimate (:func:`estimate`), or :class:`InputError` in one line when it exceeds
    ``limit`` (bytes or ``"4G"``; None: the memory available now)."""
    need = estimate(graph, n, T, keep)
    cap = available() if limit is None else parse_size(limit)
    if cap is not None and need > cap:
        what = "the memory limit" if limit is not None else "the memory available"
        fewer = " or keep fewer steps" if keep is None or len(set(keep)) > 1 else ""
        raise InputError(
            f"simulating {n} samples for T={T} needs about {_gb(need)} and {what} is "
            f"{_gb(cap)}: use fewer samples per batch{fewer}"
        )
    return need


def _gb(value: int) -> str:
    return f"{value / (1 << 30):.2f} GB" if value >= 1 << 28 else f"{value / (1 << 20):.0f} MB"
