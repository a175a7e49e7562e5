"""How a run is cut to fit in memory: time in blocks of steps and samples in chunks.

Temporal values are ``[steps·n, ...]``: a block of ``steps`` steps of ``n`` samples. On the
CPU a run keeps at least :data:`STEPS` steps per block where memory allows (a neuron layer
then runs many steps per call with its registers in cache, :mod:`.fused`), cutting the
batch into chunks of samples so that a temporal value holds about ``elements`` values;
neither depends on T, so memory does not grow with T. Chunks run one after the other and
their results are joined.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from ..ir.graph import Graph
from .heap import keep_freed_memory
from .schedule import Schedule
from .tally import Tally

BLOCK_ELEMENTS = 1 << 22  # values in one temporal tensor (16 MiB of float32)
STEPS = 16  # steps per block on the CPU, where the batch is cut to fit


def widest(graph: Graph) -> int:
    """The largest per-sample value of ``graph``."""
    return max((math.prod(s) for s in graph.shapes.values()), default=1)


def time_block(graph: Graph, n: int, elements: int = BLOCK_ELEMENTS) -> int:
    """Steps per time block for a whole batch of ``n``: a power of two such that temporal
    tensors hold about ``elements`` values (independent of T)."""
    fit = max(1, elements // max(1, n * widest(graph)))
    return 1 << (fit.bit_length() - 1)


def plan(graph: Graph, n: int, elements: int = BLOCK_ELEMENTS) -> tuple[int, int]:
    """``(steps per block, samples per chunk)`` on the CPU such that a temporal tensor holds
    about ``elements`` values: the whole batch and as many steps as fit where that is at
    least :data:`STEPS` steps, else :data:`STEPS` steps (fewer for huge samples) and the
    batch in as few chunks of even size as fit. Steps are powers of two; neither depends
    on T."""
    wide = widest(graph)
    if n * wide * STEPS <= elements:
        return time_block(graph, n, elements), n
    fit = max(1, min(STEPS, elements // wide))
    block = 1 << (fit.bit_length() - 1)
    most = max(1, min(n, elements // (block * wide)))
    return block, -(-n // -(-n // most))  # chunks of even size: no small last one


def run_chunked(
    schedule: Schedule,
    xs: list[Any],
    T: int,
    sequence: bool,
    block: int,
    samples: int,
    observe: Callable[[str, Any, bool], None] | None = None,
    keep: Iterable[int] | None = None,
) -> tuple[dict[str, Any], Tally]:
    """:meth:`Schedule.run` over chunks of ``samples`` samples, joined (one chunk when an
    observer watches the values, as it expects whole batches). Freed blocks stay in the
    process for the next block (:func:`~.heap.keep_freed_memory`)."""
    keep_freed_memory()
    axis = 1 if sequence else 0
    n = xs[0].shape[axis]
    if observe is not None or samples >= n:
        return schedule.run(xs, T, sequence, block, observe, keep)
    outs, tallies = [], []
    for s in range(0, n, samples):
        part = [x[:, s : s + samples] if sequence else x[s : s + samples] for x in xs]
        out, tally = schedule.run(part, T, sequence, block, None, keep)
        outs.append(out)
        tallies.append(tally)
    backend = schedule.backend
    joined = {o: backend.concat([out[o] for out in outs], 1) for o in outs[0]}
    return joined, Tally.joined(tallies, backend)
